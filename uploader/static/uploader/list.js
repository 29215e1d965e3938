// The list of one's uploads: cursor pages loaded as one scrolls (or with "Load more"), a status
// filter, download and delete, and the newest page refreshed while anything is still settling.
// Every field the API may leave null is drawn as nothing, and a row that cannot be drawn is skipped
// rather than stopping the list.
import { api } from "./api.js";
import { announce, el, fileName } from "./dom.js";
import { formatBytes, formatDate, formatDuration, gettext } from "./i18n.js";

const POLL_MS = 1500;
const SETTLING = new Set(["pending", "processing"]);
// Still changing: not decided yet, or decided while its thumbnail is being made.
const settling = (u) => SETTLING.has(u?.status) || (u?.status === "available" && u?.media_status === "pending");

export function statusLabel(status) {
  const labels = {
    pending: gettext("pending"), processing: gettext("processing"), available: gettext("available"),
    rejected: gettext("rejected"), expired: gettext("expired"), deleted: gettext("deleted"),
  };
  return labels[status] || String(status ?? "");
}

/** The kind of a type in people's words ("Photo"), from the page's table; the type itself when
 * the table does not know it. */
export function kindLabel(type, media) {
  const kind = media?.types?.[type];
  return (kind && media.kinds?.[kind]?.one) || type;
}

function uploadRow(upload, actions) {
  const type = typeof upload.content_type === "string" ? upload.content_type : "";
  const name = typeof upload.original_filename === "string" ? upload.original_filename : "";
  // The one status its owner sees: a reviewer's rejection is a rejection (older servers: status).
  const outcome = typeof upload.outcome === "string" ? upload.outcome : upload.status;
  const reason = typeof upload.outcome_reason === "string" ? upload.outcome_reason
    : (upload.status === "rejected" ? upload.status_reason : "");
  const downloadable = outcome === "available" && typeof upload.download_url === "string";
  // The worker's WebP thumbnail (a video's poster frame), never the original: a 20 MB photo is not
  // downloaded into a 48-pixel box, and its EXIF (GPS included) stays out of the page.
  const thumb = downloadable && typeof upload.thumbnail_url === "string"
    ? el("img", { class: "thumb", src: upload.thumbnail_url, alt: "", loading: "lazy" })
    : null;
  const folder = typeof upload.relative_path === "string" ? upload.relative_path : "";
  const nameCell = el("td", { class: "filename" },
    folder ? el("span", { class: "folder", text: `${folder}/` }) : null,
    downloadable ? fileName(name, "a", { href: upload.download_url, rel: "noopener" }) : fileName(name));
  const length = formatDuration(upload.duration);
  if (length) nameCell.append(" ", el("span", { class: "duration", text: length, "aria-label": gettext("Duration %(time)s", { time: length }) }));
  const status = el("td", { class: "state" }, el("span", { class: `status status-${outcome}`, text: statusLabel(outcome) }));
  if (upload.review_status === "rejected") status.append(" ", el("span", { class: "review review-rejected", text: gettext("by a reviewer") }));
  if (upload.review_status === "approved") status.append(" ", el("span", { class: "review review-approved", text: gettext("approved") }));
  if (reason && (outcome === "rejected" || outcome === "expired")) status.append(el("span", { class: "reason", text: reason }));
  const buttons = el("td", { class: "row-actions" });
  if (downloadable) {
    buttons.append(el("a", {
      class: "button download", href: `${actions.apiBase}${upload.id}/download/`,
      "aria-label": gettext("Download %(name)s", { name }), text: gettext("Download"),
    }));
  }
  if (upload.status !== "deleted") {
    const remove = el("button", { type: "button", class: "delete", "aria-label": gettext("Delete %(name)s", { name }), text: gettext("Delete") });
    remove.addEventListener("click", () => actions.remove(upload, remove));
    buttons.append(remove);
  }
  return el("tr", { "data-id": upload.id, "data-status": upload.status, "data-outcome": outcome, "data-review": upload.review_status || "unreviewed" },
    el("td", { class: "preview" }, thumb), nameCell, el("td", { class: "kind", title: type, text: kindLabel(type, actions.media) }),
    el("td", { class: "size", text: formatBytes(upload.stored_size ?? upload.size) }), status,
    el("td", { class: "when", text: formatDate(upload.uploaded_at) }), buttons);
}

export function mountList({ apiBase, rows, filter, more, sentinel, isBusy, media = null, onOutcome = () => {} }) {
  const shown = new Map(); // id -> "status|version", so thumbnails don't reload on every poll
  let next = ""; // the cursor URL of the page after the last one loaded
  let firstLoaded = false;
  let loading = false;
  let timer = null;
  let generation = 0; // a new filter makes answers to the old one stale

  const query = () => (filter.value ? `?outcome=${encodeURIComponent(filter.value)}` : "");
  const empty = () => {
    if (!rows.querySelector("tr[data-id]") && !rows.querySelector(".empty")) {
      rows.append(el("tr", { class: "empty" }, el("td", { colspan: "7", text: gettext("Nothing yet.") })));
    }
  };

  const actions = {
    apiBase, media,
    async remove(upload, button) {
      const name = upload.original_filename || "";
      if (!window.confirm(gettext("Delete %(name)s? The file is removed from storage and cannot be recovered.", { name }))) return;
      button.disabled = true;
      try {
        await api(`${apiBase}${upload.id}/`, { method: "DELETE" });
        rows.querySelector(`tr[data-id="${CSS.escape(String(upload.id))}"]`)?.remove();
        shown.delete(upload.id);
        announce(gettext("%(name)s deleted.", { name }));
        empty();
      } catch (error) {
        button.disabled = false;
        announce(error.message);
        window.alert(error.message);
      }
    },
  };

  /** Draws `uploads` at the top (the newest page) or after the rows shown, updating rows already
   * there; a change of status, or a new upload appearing at the top, is announced. */
  function draw(uploads, { top, announceNew = false }) {
    rows.querySelector(".empty")?.remove();
    let previous = null;
    for (const upload of uploads) {
      if (!upload || upload.id === undefined) continue;
      let row = rows.querySelector(`tr[data-id="${CSS.escape(String(upload.id))}"]`);
      const shownStatus = upload.outcome || upload.status;
      const signature = `${shownStatus}|${upload.version}`;
      onOutcome(upload);
      if (!row || shown.get(upload.id) !== signature) {
        let fresh;
        try { fresh = uploadRow(upload, actions); } catch { continue; }
        const before = shown.get(upload.id)?.split("|")[0];
        if (before ? before !== shownStatus : announceNew) {
          announce(gettext("%(name)s: %(status)s", { name: upload.original_filename || "", status: statusLabel(shownStatus) }));
        }
        if (row) row.replaceWith(fresh); else rows.append(fresh);
        row = fresh;
        shown.set(upload.id, signature);
      }
      if (top) {
        const wanted = previous ? previous.nextSibling : rows.firstChild;
        if (wanted !== row) rows.insertBefore(row, wanted);
      } else if (!row.isConnected) rows.append(row);
      previous = row;
    }
    return previous;
  }

  /** The newest page again: new uploads appear, changed ones are redrawn, gone ones leave. */
  async function refresh() {
    const mine = generation;
    let page;
    try { page = await api(`${apiBase}${query()}`); } catch { return schedule(); }
    if (mine !== generation) return;
    const uploads = Array.isArray(page?.results) ? page.results : [];
    const last = draw(uploads, { top: true, announceNew: firstLoaded });
    // Rows between the top and the last one drawn that the page no longer lists have left it
    // (deleted, or out of the filter); below that, rows belong to pages loaded later.
    const seen = new Set(uploads.map((u) => String(u?.id)));
    for (const row of [...rows.querySelectorAll("tr[data-id]")]) {
      if (last && row.compareDocumentPosition(last) & Node.DOCUMENT_POSITION_PRECEDING) break;
      if (!seen.has(row.dataset.id) && (last || !page?.next)) { row.remove(); shown.delete(row.dataset.id); }
    }
    if (!firstLoaded) { next = page?.next || ""; firstLoaded = true; }
    more.hidden = !next;
    empty();
    schedule(uploads.some(settling) || isBusy());
  }

  async function loadMore() {
    if (!next || loading) return;
    loading = true;
    const mine = generation;
    more.disabled = true;
    try {
      const page = await api(next);
      if (mine !== generation) return;
      draw(Array.isArray(page?.results) ? page.results : [], { top: false });
      next = page?.next || "";
      more.hidden = !next;
    } catch (error) {
      announce(error.message);
    } finally {
      loading = false;
      more.disabled = false;
    }
  }

  function schedule(soon = false) {
    clearTimeout(timer);
    timer = setTimeout(refresh, soon ? POLL_MS : POLL_MS * 10);
  }

  function reset() {
    generation++;
    next = "";
    firstLoaded = false;
    shown.clear();
    rows.replaceChildren();
    refresh();
  }

  filter.addEventListener("change", reset);
  more.addEventListener("click", loadMore);
  // Near the end of the list, the next page loads by itself.
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: "200px" })
    .observe(sentinel);
  refresh();
  return { refresh: () => schedule(true), refreshNow: refresh };
}
