// The upload page: the drop zone, the file and folder choosers, the batch (batch.js) and one card
// per transfer under way (progress, pause, resume, cancel), the interrupted uploads that can
// resume, and the list of one's uploads.
// Type and size are checked here before any request; the server stays the authority.
import { announce, el, fileName } from "./dom.js";
import { api } from "./api.js";
import { formatBytes, gettext } from "./i18n.js";
import { mountList } from "./list.js";
import { mountRecorder } from "./recorder.js";
import { Batch } from "./batch.js";
import { Gatherer } from "./gather.js";
import { abortPrestart, acceptList, forgetUnfinished, guessType, singleStart, Transfer, unfinishedUploads } from "./transfer.js";

const STATES = () => ({
  queued: gettext("queued"), signing: gettext("preparing"), resuming: gettext("resuming"), uploading: gettext("uploading"),
  paused: gettext("paused"), offline: gettext("waiting for the connection"), verifying: gettext("checking"), sent: gettext("sent"), cancelling: gettext("cancelling"),
  cancelled: gettext("cancelled"), failed: gettext("failed"), refused: gettext("refused"),
  skipped: gettext("already uploaded"),
});

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** The kind a file is, in the page's table's terms ("photo", "program"): a program's name makes
 * it a program whatever type the browser guessed. */
function kindOf(file, type, media) {
  const dot = file.name.lastIndexOf(".");
  const extension = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
  if (media?.programs?.includes(extension)) return "program";
  return media?.types?.[type] || "file";
}

/** Why this file cannot be sent, or "" when it may be: in people's words (its kind, the limit
 * that binds), not MIME types. */
export function refusal(file, { allowedTypes, maxSize, spaceLeft = null, media = null }) {
  const type = guessType(file);
  if (allowedTypes.length && !allowedTypes.includes(type)) {
    const kind = kindOf(file, type, media);
    const accepted = (media?.accepted || []).map((entry) => entry.label).join(", ");
    if (kind === "file" || !media) {
      const dot = file.name.lastIndexOf(".");
      const what = dot > 0 ? file.name.slice(dot).toLowerCase() : (type || gettext("Unknown"));
      return accepted
        ? gettext("Files of this type (%(what)s) are not accepted here; accepted: %(accepted)s.", { what, accepted })
        : gettext("%(type)s files are not accepted here.", { type: what });
    }
    return gettext("%(kinds)s are not accepted here; accepted: %(accepted)s.", { kinds: capital(media.kinds[kind].many), accepted });
  }
  if (file.size === 0) return gettext("The file is empty.");
  if (maxSize && file.size > maxSize) {
    return gettext("The file is %(size)s, larger than the %(max)s one file may be.", { size: formatBytes(file.size), max: formatBytes(maxSize) });
  }
  if (spaceLeft !== null && file.size > spaceLeft) {
    return gettext("The file is %(size)s and your space has %(left)s left.", { size: formatBytes(file.size), left: formatBytes(spaceLeft) });
  }
  return "";
}

function transferView(root, list, file, name, onLoaded = () => {}) {
  const labels = STATES();
  const stateText = el("span", { class: "state", text: labels.queued });
  const bar = el("progress", { max: String(file.size || 1), value: "0", "aria-label": gettext("Progress of %(name)s", { name }) });
  const pause = el("button", { type: "button", class: "pause", "aria-label": gettext("Pause %(name)s", { name }), text: gettext("Pause") });
  const retry = el("button", { type: "button", class: "resume", hidden: true, "aria-label": gettext("Resume %(name)s", { name }), text: gettext("Resume") });
  const cancel = el("button", { type: "button", class: "cancel", "aria-label": gettext("Cancel %(name)s", { name }), text: gettext("Cancel") });
  const item = el("li", { class: "transfer" }, fileName(name), stateText, bar,
    el("span", { class: "actions" }, pause, retry, cancel));
  list.prepend(item);
  let lastQuarter = -1;
  const finished = () => { cancel.hidden = true; retry.hidden = true; pause.hidden = true; };
  return {
    item, cancel, retry, pause,
    state(state) {
      if (item.dataset.state === state) return;
      item.dataset.state = state;
      stateText.classList.remove("error");
      if (state === "sent" || state === "skipped") { bar.value = bar.max; finished(); }
      if (state === "cancelled") finished();
      pause.hidden = state !== "uploading";
      retry.hidden = state !== "paused";
      if (state !== "uploading") stateText.textContent = labels[state] || state;
      if (["paused", "offline", "sent", "cancelled"].includes(state)) announce(`${name}: ${labels[state]}`);
    },
    progress(loaded, total, started, resumed) {
      bar.max = total || 1;
      bar.value = loaded;
      onLoaded(loaded);
      const seconds = (performance.now() - started) / 1000;
      const speed = seconds > 0.2 ? ` · ${formatBytes((loaded - resumed) / seconds)}/s` : "";
      root.dispatchEvent(new CustomEvent("uploader:progress", { detail: { name, loaded, total } }));
      if (item.dataset.state !== "uploading") return;  // a paused or offline transfer keeps saying so
      stateText.textContent = gettext("%(loaded)s of %(total)s", { loaded: formatBytes(loaded), total: formatBytes(total) }) + speed;
      const quarter = Math.floor((4 * loaded) / (total || 1));
      if (quarter !== lastQuarter && quarter < 4) {
        lastQuarter = quarter;
        announce(gettext("%(name)s: %(percent)s%% sent", { name, percent: quarter * 25 }));
      }
    },
    fail(message) {
      item.dataset.state = "failed";
      stateText.textContent = message;
      stateText.classList.add("error");
      pause.hidden = true;
      retry.hidden = false;
      announce(`${name}: ${message}`);
    },
    refuse(message) {
      item.dataset.state = "refused";
      stateText.textContent = message;
      stateText.classList.add("error");
      finished();
      announce(`${name}: ${message}`);
    },
  };
}

/** A sent file's card follows what became of it, as the list says: checking, available, or
 * rejected with the reason (the card's data-state stays "sent": the bytes went). */
function cardOutcome(transfers, upload) {
  const card = transfers.querySelector(`li.transfer[data-id="${CSS.escape(String(upload?.id))}"]`);
  const outcome = upload?.outcome || upload?.status;
  if (!card || card.dataset.outcome === outcome) return;
  card.dataset.outcome = outcome;
  const text = card.querySelector(".state");
  const words = { pending: gettext("checking"), processing: gettext("checking"), available: gettext("available"), rejected: gettext("rejected"), expired: gettext("expired") };
  text.textContent = outcome === "rejected" && upload.outcome_reason ? `${words.rejected}: ${upload.outcome_reason}` : (words[outcome] || outcome);
  text.classList.toggle("error", outcome === "rejected" || outcome === "expired");
}

function showUnfinished(apiBase, container) {
  container.replaceChildren();
  for (const entry of unfinishedUploads()) {
    const name = String(entry.name ?? "");
    const discard = el("button", { type: "button", "aria-label": gettext("Discard %(name)s", { name }), text: gettext("Discard") });
    discard.onclick = async () => {
      forgetUnfinished(entry.key);
      await api(`${apiBase}${entry.id}/abort/`, { method: "POST" }).catch(() => {});
      showUnfinished(apiBase, container);
    };
    container.append(el("li", { class: "unfinished", "data-id": entry.id },
      gettext("%(name)s (%(size)s) was interrupted: choose it again to resume.", { name, size: formatBytes(entry.size) }), " ", discard));
  }
}

/** The files of a drop, folders walked: `{ files: [{ file, path }], empties: [folder paths] }`.
 * The entries are taken while the event lasts (the browser forgets them after it). */
async function droppedFiles(dataTransfer) {
  const entries = [...(dataTransfer.items || [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return { files: [...dataTransfer.files].map((file) => ({ file, path: "" })), empties: [] };
  const found = { files: [], empties: [] };
  const walk = async (entry, folder) => {
    if (entry.isFile) {
      found.files.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path: folder });
      return;
    }
    if (!entry.isDirectory) return;
    const path = folder ? `${folder}/${entry.name}` : entry.name;
    const reader = entry.createReader();
    let any = false;
    for (;;) { // readEntries answers in pieces (100 at a time in Chromium) until an empty one
      const some = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!some.length) break;
      any = true;
      for (const child of some) await walk(child, path);
    }
    if (!any) found.empties.push(path);
  };
  for (const entry of entries) await walk(entry, "");
  return found;
}

/** The folder of a file chosen with the folder picker ("holiday/day1"), or "". */
const folderOf = (file) => (file.webkitRelativePath || "").split("/").slice(0, -1).join("/");

const SYSTEM_FILES = new Set([".ds_store", "thumbs.db", "desktop.ini"]);

export function mountUploader(root) {
  const apiBase = root.dataset.api;
  const threshold = Number(root.dataset.multipartThreshold);
  const policy = {
    allowedTypes: (root.dataset.allowedTypes || "").split(",").map((s) => s.trim()).filter(Boolean),
    maxSize: Number(root.dataset.maxSize) || 0,
    spaceLeft: root.dataset.spaceLeft ? Number(root.dataset.spaceLeft) : null,
    media: JSON.parse(document.getElementById("media-types")?.textContent || "null"),
  };
  const input = root.querySelector("#file-input");
  const folderInput = root.querySelector("#folder-input");
  const zone = root.querySelector("#dropzone");
  const choose = root.querySelector("#choose-files");
  const chooseFolder = root.querySelector("#choose-folder");
  const transfers = root.querySelector("#transfers");
  const unfinished = root.querySelector("#unfinished");
  const batch = new Batch(transfers.parentNode.insertBefore(el("div"), transfers));
  const offline = new Set(); // jobs stopped by a lost connection: tried again when it returns
  // Many files: their starts made ahead in batch calls, their completes gathered likewise.
  const starts = new Gatherer(`${apiBase}batch/`);
  const completes = new Gatherer(`${apiBase}batch/complete/`, { waitMs: 500 });
  input.accept = acceptList(policy.allowedTypes);

  const list = mountList({
    apiBase,
    rows: document.getElementById("upload-rows"),
    filter: document.getElementById("status-filter"),
    more: document.getElementById("load-more"),
    sentinel: document.getElementById("list-end"),
    isBusy: () => batch.busy(),
    media: policy.media,
    onOutcome: (upload) => cardOutcome(transfers, upload),
  });

  /** One file of the batch: its card and transfer are made when its turn comes; one of many
   * sent by a single PUT is started ahead (`prepare`) in a batch call and completed in another. */
  function job({ file, path }, many) {
    let view = null;
    let transfer = null;
    let prestart = null;
    const single = file.size > 0 && file.size <= threshold;
    const self = {
      name: path ? `${path}/${file.name}` : file.name, path, size: file.size,
      prepared: false,
      prepare() {
        if (self.prepared || !many || !single) return;
        self.prepared = true;
        // A file already uploaded whole (a folder dropped again after a reload) is not sent twice.
        prestart = singleStart(file, path).then((body) => starts.add({ ...body, skip_if_available: true }));
        prestart.catch(() => {}); // heard when the transfer takes it
      },
      start() {
        if (!view) {
          view = transferView(root, transfers, file, self.name, (loaded) => batch.progress(self, loaded));
          transfer = new Transfer(apiBase, file, view, { threshold, path, prestart, completer: many && single ? completes : null });
          view.cancel.onclick = () => { batch.forget(self); transfer.cancel().then(() => showUnfinished(apiBase, unfinished)); };
          view.pause.onclick = () => { transfer.pause(); view.retry.focus(); };
          view.retry.onclick = () => {
            if (transfer.paused) transfer.resume(); else batch.requeue(self);
            view.pause.focus();
          };
        }
        view.state("queued");
        list.refresh();
        return transfer.run().then(
          () => {
            if (transfer.record?.id) view.item.dataset.id = transfer.record.id;
            batch.finished(view.item);
            return transfer.skipped ? "skipped" : "sent";
          },
          (error) => {
            if (error.cancelled || transfer.cancelled) return "cancelled";
            view.fail(error.message);
            if (error.status === 0) offline.add(self);
            return "failed";
          },
        ).finally(() => { list.refresh(); showUnfinished(apiBase, unfinished); });
      },
      pause: () => transfer?.pause(),
      resume: () => transfer?.resume(),
      cancel: () => transfer?.cancel(),
      again: () => offline.delete(self),
      drop: () => abortPrestart(apiBase, prestart),
    };
    return self;
  }

  function start(chosen, empties = []) {
    const jobs = [];
    const refusals = [];
    for (const { file, path } of chosen) {
      const name = path ? `${path}/${file.name}` : file.name;
      const why = path && SYSTEM_FILES.has(file.name.toLowerCase()) ? gettext("a system file, not sent.") : refusal(file, policy);
      if (why) {
        refusals.push({ name, reason: why });
        transferView(root, transfers, file, name).refuse(why);
        continue;
      }
      jobs.push({ file, path });
    }
    const many = jobs.length > 1 || batch.busy();
    batch.add(jobs.map((chosen) => job(chosen, many)), { refusals, empties });
    showUnfinished(apiBase, unfinished);
  }

  // Back online: try again what the outage stopped.
  window.addEventListener("online", () => { for (const stopped of [...offline]) batch.requeue(stopped); });
  choose.addEventListener("click", () => input.click());
  chooseFolder?.addEventListener("click", () => folderInput.click());
  input.addEventListener("change", () => { start([...input.files].map((file) => ({ file, path: "" }))); input.value = ""; });
  folderInput?.addEventListener("change", () => {
    start([...folderInput.files].map((file) => ({ file, path: folderOf(file) })));
    folderInput.value = "";
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    droppedFiles(event.dataTransfer).then(({ files, empties }) => start(files, empties));
  });
  mountRecorder({
    controls: root.querySelector("#record-controls"),
    panel: root.querySelector("#recorder"),
    allowedTypes: policy.allowedTypes,
    send: (file) => start([{ file, path: "" }]),
  });
  showUnfinished(apiBase, unfinished);
  root.dataset.ready = "true"; // every control works from here on (tests wait for it)
}
