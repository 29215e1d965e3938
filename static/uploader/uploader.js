// The browser uploader: presign through the API, PUT the bytes straight to S3 with progress,
// tell the API it is done, then follow the record until the worker has decided.
// Dependency-free ES module; no bundler.

const CHECKSUM_LIMIT = 32 * 1024 * 1024; // hashing reads the whole file: only for small ones
const PUT_ATTEMPTS = 3;
const POLL_MS = 1500;

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

async function sha256Base64(file) {
  if (!globalThis.crypto || !crypto.subtle || file.size > CHECKSUM_LIMIT) return "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function putOnce(instruction, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(instruction.method, instruction.url);
    for (const [name, value] of Object.entries(instruction.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded, event.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag"));
      else reject(Object.assign(new Error(`storage answered ${xhr.status}`), { status: xhr.status, retry: xhr.status >= 500 }));
    };
    xhr.onerror = () => reject(Object.assign(new Error("network error"), { retry: true }));
    xhr.send(file);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function putWithRetry(instruction, file, onProgress) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await putOnce(instruction, file, onProgress);
    } catch (error) {
      if (!error.retry || attempt >= PUT_ATTEMPTS) throw error;
      await sleep(500 * 2 ** attempt);
    }
  }
}

/** Upload one file; `view` receives progress and state changes. Resolves with the upload record. */
export async function uploadFile(apiBase, file, view) {
  view.state("hashing");
  const checksum = await sha256Base64(file);
  view.state("signing");
  const created = await api(apiBase, {
    method: "POST",
    body: { filename: file.name, content_type: guessType(file), size: file.size, checksum_sha256: checksum },
  });
  view.state("uploading");
  const started = performance.now();
  await putWithRetry(created.upload, file, (loaded, total) => view.progress(loaded, total, started));
  view.state("verifying");
  return api(`${apiBase}${created.id}/complete/`, { method: "POST" });
}

function formatBytes(n) {
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

function transferView(list, file) {
  const label = el("span", { class: "name" }, file.name);
  const stateText = el("span", { class: "state" }, "queued");
  const bar = el("progress", { max: String(file.size || 1), value: "0" });
  const item = el("li", { class: "transfer" }, label, stateText, bar);
  list.prepend(item);
  return {
    item,
    state(text) { stateText.textContent = text; item.dataset.state = text; },
    progress(loaded, total, started) {
      bar.max = total; bar.value = loaded;
      const seconds = (performance.now() - started) / 1000;
      const speed = seconds > 0 ? `${formatBytes(loaded / seconds)}/s` : "";
      stateText.textContent = `${Math.floor((100 * loaded) / total)}% ${speed}`;
    },
    fail(message) { stateText.textContent = message; stateText.className = "state error"; item.dataset.state = "failed"; },
    done() { bar.value = bar.max; item.dataset.state = "sent"; stateText.textContent = "sent"; },
  };
}

function uploadRow(upload) {
  const thumb = upload.download_url && upload.content_type.startsWith("image/") && upload.content_type !== "image/svg+xml"
    ? el("img", { class: "thumb", src: upload.download_url, alt: "" })
    : "";
  const name = upload.download_url
    ? el("a", { href: upload.download_url, rel: "noopener" }, upload.original_filename)
    : upload.original_filename;
  const status = el("span", { class: `status status-${upload.status}` }, upload.status);
  const statusCell = el("td", {}, status);
  if (upload.status_reason && upload.status === "rejected") statusCell.append(el("span", { class: "reason" }, upload.status_reason));
  const row = el("tr", { "data-id": upload.id, "data-status": upload.status },
    el("td", {}, thumb), el("td", { class: "filename" }, name), el("td", {}, upload.content_type),
    el("td", {}, formatBytes(upload.size)), statusCell,
    el("td", {}, upload.uploaded_at ? new Date(upload.uploaded_at).toLocaleString() : ""));
  return row;
}

export function mountUploader(root) {
  const apiBase = root.dataset.api;
  const input = root.querySelector("input[type=file]");
  const zone = root.querySelector(".dropzone");
  const transfers = root.querySelector(".transfers");
  const rows = document.getElementById("upload-rows");
  let active = 0;
  let timer = null;
  const shown = new Map(); // id -> "status|download_url?" so images don't reload on every poll

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
    const unsettled = uploads.some((u) => u.status === "pending" || u.status === "processing");
    schedule(unsettled || active > 0);
  }

  function schedule(soon = false) {
    clearTimeout(timer);
    timer = setTimeout(refresh, soon ? POLL_MS : POLL_MS * 10);
  }

  async function start(files) {
    for (const file of files) {
      const view = transferView(transfers, file);
      active++;
      schedule(true);
      uploadFile(apiBase, file, view)
        .then(() => { view.done(); })
        .catch((error) => view.fail(error.message))
        .finally(() => { active--; refresh(); });
    }
  }

  input.addEventListener("change", () => { start([...input.files]); input.value = ""; });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start([...event.dataTransfer.files]);
  });
  refresh();
}
