// The browser uploader: presign through the API, send the bytes straight to S3 with progress,
// tell the API it is done, then follow the record until the worker has decided.
// Large files go as parallel multipart uploads: every part carries a SHA-256 that S3 checks,
// a failed part is retried with backoff, an expired URL is re-signed, and an interrupted upload
// (reload, lost connection) resumes without re-sending the parts S3 already holds.
// Dependency-free ES module; no bundler.

const CHECKSUM_LIMIT = 32 * 1024 * 1024; // single PUTs are hashed whole: only small ones
const CONCURRENCY = 4;
const PART_ATTEMPTS = 6;
const POLL_MS = 1500;
const RESUME_PREFIX = "uploader:resume:";

const EXTENSION_TYPES = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
  pdf: "application/pdf", txt: "text/plain", csv: "text/csv", mp4: "video/mp4", mov: "video/quicktime",
  mp3: "audio/mpeg", zip: "application/zip",
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

class Cancelled extends Error {
  constructor() { super("cancelled"); this.cancelled = true; }
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function guessType(file) {
  if (file.type) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return EXTENSION_TYPES[ext] || "application/octet-stream";
}

async function sha256Base64(blob) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (attempt) => Math.min(8000, 400 * 2 ** attempt) * (0.75 + Math.random() / 2);

/** One PUT of `body` to a presigned URL; resolves with the ETag. */
function put(target, body, onProgress, xhrs) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhrs.add(xhr);
    xhr.open("PUT", target.url);
    for (const [name, value] of Object.entries(target.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    const done = (error, value) => { xhrs.delete(xhr); error ? reject(error) : resolve(value); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return done(null, xhr.getResponseHeader("ETag"));
      const error = new Error(`storage answered ${xhr.status}`);
      error.status = xhr.status;
      done(error);
    };
    xhr.onerror = () => done(Object.assign(new Error("network error"), { status: 0 }));
    xhr.onabort = () => done(new Cancelled());
    xhr.send(body);
  });
}

/** Collects part-URL requests made within a few milliseconds into one API call. */
class PartSigner {
  constructor(path) { this.path = path; this.pending = []; this.timer = null; }

  sign(partNumber, checksum) {
    return new Promise((resolve, reject) => {
      this.pending.push({ part_number: partNumber, checksum_sha256: checksum, resolve, reject });
      this.timer ??= setTimeout(() => this.flush(), 20);
    });
  }

  async flush() {
    const batch = this.pending.splice(0, 100);
    this.timer = this.pending.length ? setTimeout(() => this.flush(), 0) : null;
    try {
      const { parts } = await api(this.path, {
        method: "POST", body: { parts: batch.map(({ part_number, checksum_sha256 }) => ({ part_number, checksum_sha256 })) },
      });
      const byNumber = new Map(parts.map((p) => [p.part_number, p]));
      for (const request of batch) request.resolve(byNumber.get(request.part_number));
    } catch (error) {
      for (const request of batch) request.reject(error);
    }
  }
}

// --- remembering unfinished uploads across reloads ---

const fingerprint = (file) => `${RESUME_PREFIX}${file.name}:${file.size}:${file.lastModified}`;
const running = new Set(); // fingerprints of the transfers under way on this page

export function unfinishedUploads() {
  const found = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key.startsWith(RESUME_PREFIX) && !running.has(key)) {
      try { found.push({ key, ...JSON.parse(localStorage.getItem(key)) }); } catch { localStorage.removeItem(key); }
    }
  }
  return found;
}

/** A transfer of one file; `view` receives progress and state changes. */
export class Transfer {
  constructor(apiBase, file, view, { threshold }) {
    Object.assign(this, { apiBase, file, view, threshold });
    this.xhrs = new Set();
    this.cancelled = false;
    this.record = null;
  }

  async run() {
    running.add(fingerprint(this.file));
    try {
      const record = this.file.size > this.threshold ? await this.multipart() : await this.single();
      this.view.state("sent");
      return record;
    } catch (error) {
      if (this.cancelled || error.cancelled) return null; // cancel() reports when the server has aborted
      this.view.fail(error.message, () => this.run());
      throw error;
    } finally {
      running.delete(fingerprint(this.file));
    }
  }

  async cancel() {
    this.cancelled = true;
    this.view.state("cancelling");
    for (const xhr of [...this.xhrs]) xhr.abort();
    localStorage.removeItem(fingerprint(this.file));
    if (this.record) await api(`${this.apiBase}${this.record.id}/abort/`, { method: "POST" }).catch(() => {});
    this.view.state("cancelled");
  }

  check() { if (this.cancelled) throw new Cancelled(); }

  async single() {
    this.view.state("signing");
    const checksum = globalThis.crypto?.subtle && this.file.size <= CHECKSUM_LIMIT ? await sha256Base64(this.file) : "";
    this.check();
    this.record = await api(this.apiBase, {
      method: "POST",
      body: { filename: this.file.name, content_type: guessType(this.file), size: this.file.size, checksum_sha256: checksum },
    });
    this.view.state("uploading");
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await put(this.record.upload, this.file, (loaded) => this.view.progress(loaded, this.file.size, started, 0), this.xhrs);
        break;
      } catch (error) {
        if (error.cancelled || (error.status && error.status < 500) || attempt >= 3) throw error;
        await sleep(backoff(attempt));
      }
    }
    this.view.state("verifying");
    return api(`${this.apiBase}${this.record.id}/complete/`, { method: "POST" });
  }

  async multipart() {
    const file = this.file;
    const key = fingerprint(file);
    let stored = [];
    const remembered = JSON.parse(localStorage.getItem(key) || "null");
    if (remembered) {
      try {
        this.record = { id: remembered.id };
        const listing = await api(`${this.apiBase}${remembered.id}/parts/`);
        Object.assign(this.record, { part_size: listing.part_size, part_count: listing.part_count });
        stored = listing.parts;
        this.view.state("resuming");
      } catch (error) {
        if (!(error instanceof ApiError) || error.status >= 500) throw error;
        localStorage.removeItem(key); // finished, expired or gone: start again
        this.record = null;
      }
    }
    if (!this.record) {
      this.view.state("signing");
      const created = await api(this.apiBase, {
        method: "POST", body: { filename: file.name, content_type: guessType(file), size: file.size },
      });
      this.record = { id: created.id, ...created.multipart };
      localStorage.setItem(key, JSON.stringify({ id: created.id, name: file.name, size: file.size, at: Date.now() }));
    }
    this.check();
    const { id, part_size: partSize, part_count: partCount } = this.record;
    const etags = new Map(stored.map((p) => [p.part_number, p.etag]));
    const resumedBytes = stored.reduce((sum, p) => sum + p.size, 0);
    let doneBytes = resumedBytes;
    const inflight = new Map();
    const started = performance.now();
    const report = () => {
      let loaded = doneBytes;
      for (const bytes of inflight.values()) loaded += bytes;
      this.view.progress(loaded, file.size, started, resumedBytes);
    };
    this.view.state("uploading");
    report();
    const signer = new PartSigner(`${this.apiBase}${id}/parts/`);
    const queue = [];
    for (let n = 1; n <= partCount; n++) if (!etags.has(n)) queue.push(n);

    const sendPart = async (n) => {
      const blob = file.slice((n - 1) * partSize, Math.min(n * partSize, file.size));
      const checksum = await sha256Base64(blob);
      for (let attempt = 1; ; attempt++) {
        this.check();
        try {
          const target = await signer.sign(n, checksum); // fresh URL each try: one may have expired
          const etag = await put(target, blob, (loaded) => { inflight.set(n, loaded); report(); }, this.xhrs);
          inflight.delete(n);
          doneBytes += blob.size;
          report();
          return etag;
        } catch (error) {
          inflight.delete(n);
          report();
          const retriable = error.status === 0 || error.status === 403 || error.status >= 500 || error.status === 429;
          if (error.cancelled || !retriable || attempt >= PART_ATTEMPTS) throw error;
          await sleep(backoff(attempt));
        }
      }
    };
    const worker = async () => {
      while (queue.length) {
        const n = queue.shift();
        etags.set(n, await sendPart(n));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
    this.view.state("verifying");
    const parts = [...etags].sort((a, b) => a[0] - b[0]).map(([part_number, etag]) => ({ part_number, etag }));
    const record = await api(`${this.apiBase}${id}/complete/`, { method: "POST", body: { parts } });
    localStorage.removeItem(key);
    return record;
  }
}

// --- the page ---

function formatBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "";  // e.g. a legacy upload's unknown size
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value; else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function transferView(root, list, file) {
  const stateText = el("span", { class: "state" }, "queued");
  const bar = el("progress", { max: String(file.size || 1), value: "0" });
  const cancel = el("button", { type: "button", class: "cancel" }, "Cancel");
  const retry = el("button", { type: "button", class: "resume", hidden: "" }, "Resume");
  const item = el("li", { class: "transfer" }, el("span", { class: "name" }, file.name), stateText, bar,
    el("span", { class: "actions" }, retry, cancel));
  list.prepend(item);
  const finished = () => { cancel.hidden = true; retry.hidden = true; };
  return {
    item, cancel, retry,
    state(text) {
      item.dataset.state = text;
      stateText.className = "state";
      if (text === "sent") { bar.value = bar.max; finished(); }
      if (text === "cancelled") finished();
      if (text !== "uploading") stateText.textContent = text;
    },
    progress(loaded, total, started, resumed) {
      bar.max = total; bar.value = loaded;
      const seconds = (performance.now() - started) / 1000;
      const speed = seconds > 0.2 ? ` · ${formatBytes((loaded - resumed) / seconds)}/s` : "";
      stateText.textContent = `${formatBytes(loaded)} of ${formatBytes(total)}${speed}`;
      root.dispatchEvent(new CustomEvent("uploader:progress", { detail: { name: file.name, loaded, total } }));
    },
    fail(message, resume) {
      item.dataset.state = "failed";
      stateText.textContent = message;
      stateText.className = "state error";
      retry.hidden = false;
      retry.onclick = () => { retry.hidden = true; stateText.className = "state"; resume().catch(() => {}); };
    },
  };
}

function uploadRow(upload) {
  const type = upload.content_type || "";
  const thumb = upload.download_url && type.startsWith("image/") && type !== "image/svg+xml"
    ? el("img", { class: "thumb", src: upload.download_url, alt: "" })
    : "";
  const name = upload.download_url
    ? el("a", { href: upload.download_url, rel: "noopener" }, upload.original_filename || "")
    : upload.original_filename || "";
  const statusCell = el("td", {}, el("span", { class: `status status-${upload.status}` }, upload.status));
  if (upload.status_reason && upload.status === "rejected") statusCell.append(el("span", { class: "reason" }, upload.status_reason));
  if (upload.review_status && upload.review_status !== "unreviewed") {
    statusCell.append(" ", el("span", { class: `review review-${upload.review_status}` }, upload.review_status === "approved" ? "approved" : "rejected by a reviewer"));
    if (upload.review_reason) statusCell.append(el("span", { class: "reason" }, upload.review_reason));
  }
  return el("tr", { "data-id": upload.id, "data-status": upload.status, "data-review": upload.review_status },
    el("td", {}, thumb), el("td", { class: "filename" }, name), el("td", {}, type),
    el("td", {}, formatBytes(upload.stored_size ?? upload.size)), statusCell,
    el("td", {}, upload.uploaded_at ? new Date(upload.uploaded_at).toLocaleString() : ""));
}

function showUnfinished(apiBase, container) {
  container.replaceChildren();
  for (const entry of unfinishedUploads()) {
    const discard = el("button", { type: "button" }, "Discard");
    discard.onclick = async () => {
      localStorage.removeItem(entry.key);
      await api(`${apiBase}${entry.id}/abort/`, { method: "POST" }).catch(() => {});
      showUnfinished(apiBase, container);
    };
    container.append(el("li", { class: "unfinished", "data-id": entry.id },
      `${entry.name} (${formatBytes(entry.size)}) was interrupted: choose it again to resume. `, discard));
  }
}

export function mountUploader(root) {
  const apiBase = root.dataset.api;
  const threshold = Number(root.dataset.multipartThreshold);
  const input = root.querySelector("input[type=file]");
  const zone = root.querySelector(".dropzone");
  const transfers = root.querySelector(".transfers");
  const unfinished = root.querySelector(".unfinished-list");
  const rows = document.getElementById("upload-rows");
  const paused = new Set();
  let active = 0;
  let timer = null;
  const shown = new Map(); // id -> status|version, so thumbnails don't reload on every poll

  async function refresh() {
    let page;
    try { page = await api(apiBase); } catch { return schedule(); }
    const uploads = page.results || [];
    if (!uploads.length) return schedule();
    rows.querySelector(".empty")?.remove();
    const seen = new Set();
    uploads.forEach((upload, index) => {
      seen.add(upload.id);
      const signature = `${upload.status}|${upload.version}`;
      let row = rows.querySelector(`tr[data-id="${upload.id}"]`);
      if (!row || shown.get(upload.id) !== signature) {
        const fresh = uploadRow(upload);
        if (row) row.replaceWith(fresh); else rows.append(fresh);
        row = fresh;
        shown.set(upload.id, signature);
      }
      if (rows.children[index] !== row) rows.insertBefore(row, rows.children[index] || null);
    });
    for (const row of [...rows.querySelectorAll("tr[data-id]")]) if (!seen.has(row.dataset.id)) row.remove();
    schedule(uploads.some((u) => u.status === "pending" || u.status === "processing") || active > 0);
  }

  function schedule(soon = false) {
    clearTimeout(timer);
    timer = setTimeout(refresh, soon ? POLL_MS : POLL_MS * 10);
  }

  function start(files) {
    for (const file of files) {
      const view = transferView(root, transfers, file);
      const transfer = new Transfer(apiBase, file, view, { threshold });
      view.cancel.onclick = () => transfer.cancel().then(() => showUnfinished(apiBase, unfinished));
      active++;
      schedule(true);
      transfer.run()
        .catch(() => paused.add(view))
        .finally(() => { active--; showUnfinished(apiBase, unfinished); refresh(); });
      showUnfinished(apiBase, unfinished);
    }
  }

  // Back online: resume what the outage paused.
  window.addEventListener("online", () => { for (const view of paused) view.retry.click(); paused.clear(); });
  input.addEventListener("change", () => { start([...input.files]); input.value = ""; });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start([...event.dataTransfer.files]);
  });
  showUnfinished(apiBase, unfinished);
  refresh();
}
