// The upload page: the drop zone and file chooser, one line per transfer (progress, pause,
// resume, cancel), the interrupted uploads that can resume, and the list of one's uploads.
// Type and size are checked here before any request; the server stays the authority.
import { announce, el } from "./dom.js";
import { api } from "./api.js";
import { formatBytes, gettext } from "./i18n.js";
import { mountList } from "./list.js";
import { mountRecorder } from "./recorder.js";
import { forgetUnfinished, guessType, Transfer, unfinishedUploads } from "./transfer.js";

const STATES = () => ({
  queued: gettext("queued"), signing: gettext("preparing"), resuming: gettext("resuming"), uploading: gettext("uploading"),
  paused: gettext("paused"), offline: gettext("waiting for the connection"), verifying: gettext("checking"), sent: gettext("sent"), cancelling: gettext("cancelling"),
  cancelled: gettext("cancelled"), failed: gettext("failed"), refused: gettext("refused"),
});

/** Why this file cannot be sent, or "" when it may be. */
export function refusal(file, { allowedTypes, maxSize }) {
  const type = guessType(file);
  if (allowedTypes.length && !allowedTypes.includes(type)) {
    return gettext("%(type)s files are not accepted here.", { type: type || gettext("Unknown") });
  }
  if (file.size === 0) return gettext("The file is empty.");
  if (maxSize && file.size > maxSize) return gettext("The file is larger than %(max)s.", { max: formatBytes(maxSize) });
  return "";
}

function transferView(root, list, file) {
  const labels = STATES();
  const name = file.name;
  const stateText = el("span", { class: "state", text: labels.queued });
  const bar = el("progress", { max: String(file.size || 1), value: "0", "aria-label": gettext("Progress of %(name)s", { name }) });
  const pause = el("button", { type: "button", class: "pause", "aria-label": gettext("Pause %(name)s", { name }), text: gettext("Pause") });
  const retry = el("button", { type: "button", class: "resume", hidden: true, "aria-label": gettext("Resume %(name)s", { name }), text: gettext("Resume") });
  const cancel = el("button", { type: "button", class: "cancel", "aria-label": gettext("Cancel %(name)s", { name }), text: gettext("Cancel") });
  const item = el("li", { class: "transfer" }, el("span", { class: "name", text: name }), stateText, bar,
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
      if (state === "sent") { bar.value = bar.max; finished(); }
      if (state === "cancelled") finished();
      pause.hidden = state !== "uploading";
      retry.hidden = state !== "paused";
      if (state !== "uploading") stateText.textContent = labels[state] || state;
      if (["paused", "offline", "sent", "cancelled"].includes(state)) announce(`${name}: ${labels[state]}`);
    },
    progress(loaded, total, started, resumed) {
      bar.max = total || 1;
      bar.value = loaded;
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

export function mountUploader(root) {
  const apiBase = root.dataset.api;
  const threshold = Number(root.dataset.multipartThreshold);
  const policy = {
    allowedTypes: (root.dataset.allowedTypes || "").split(",").map((s) => s.trim()).filter(Boolean),
    maxSize: Number(root.dataset.maxSize) || 0,
  };
  const input = root.querySelector("#file-input");
  const zone = root.querySelector("#dropzone");
  const choose = root.querySelector("#choose-files");
  const transfers = root.querySelector("#transfers");
  const unfinished = root.querySelector("#unfinished");
  const offline = new Set(); // transfers stopped by a lost connection: resumed when it returns
  let active = 0;

  const list = mountList({
    apiBase,
    rows: document.getElementById("upload-rows"),
    filter: document.getElementById("status-filter"),
    more: document.getElementById("load-more"),
    sentinel: document.getElementById("list-end"),
    isBusy: () => active > 0,
  });

  function begin(transfer, view) {
    active++;
    list.refresh();
    transfer.run()
      .catch((error) => {
        if (error.cancelled || transfer.cancelled) return;
        const again = () => { offline.delete(again); view.again = null; begin(transfer, view); };
        view.again = again;
        view.fail(error.message);
        if (error.status === 0) offline.add(again);
      })
      .finally(() => { active--; showUnfinished(apiBase, unfinished); list.refresh(); });
    showUnfinished(apiBase, unfinished);
  }

  function start(files) {
    for (const file of files) {
      const view = transferView(root, transfers, file);
      const why = refusal(file, policy);
      if (why) { view.refuse(why); continue; }
      const transfer = new Transfer(apiBase, file, view, { threshold });
      view.cancel.onclick = () => transfer.cancel().then(() => showUnfinished(apiBase, unfinished));
      view.pause.onclick = () => { transfer.pause(); view.retry.focus(); };
      view.retry.onclick = () => {
        if (transfer.paused) transfer.resume(); else view.again?.();
        view.pause.focus();
      };
      begin(transfer, view);
    }
  }

  // Back online: resume what the outage stopped.
  window.addEventListener("online", () => { for (const again of [...offline]) again(); });
  choose.addEventListener("click", () => input.click());
  input.addEventListener("change", () => { start([...input.files]); input.value = ""; });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start([...event.dataTransfer.files]);
  });
  mountRecorder({
    controls: root.querySelector("#record-controls"),
    panel: root.querySelector("#recorder"),
    allowedTypes: policy.allowedTypes,
    send: (file) => start([file]),
  });
  showUnfinished(apiBase, unfinished);
  root.dataset.ready = "true"; // every control works from here on (tests wait for it)
}
