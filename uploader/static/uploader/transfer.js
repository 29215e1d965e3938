// The transfer engine: one file, straight to S3, with progress. A single PUT for small files;
// above the threshold a multipart upload whose every part carries a SHA-256 that S3 checks, four
// parts at a time. Pause aborts what is in flight and keeps what S3 holds; an interrupted multipart
// upload (reload, lost connection) resumes without re-sending the parts S3 already has.
import { api, ApiError } from "./api.js";
import { gettext } from "./i18n.js";
import { mediaTable, typeOfExtension } from "./media.js";
import { retriable, retrying } from "./retry.js";

const CHECKSUM_LIMIT = 32 * 1024 * 1024; // single PUTs are hashed whole: only small ones
const CONCURRENCY = 4;
const MiB = 1024 * 1024;
const FIRST_PARTS = 2 * CONCURRENCY; // hashed before the start, whose answer carries their URLs
const MAX_PARTS_PER_REQUEST = 100; // the server's limit for one request for part URLs
const SIGN_AHEAD_SECONDS = 60; // part URLs live 300 s by default
const RESUME_PREFIX = "uploader:resume:";

/** What starting a single PUT of `file` says: name, type, folder, size and the SHA-256 S3 checks. */
export async function singleStart(file, path = "") {
  const checksum = globalThis.crypto?.subtle && file.size <= CHECKSUM_LIMIT ? await sha256Base64(file) : "";
  const body = { filename: file.name, content_type: guessType(file), size: file.size, checksum_sha256: checksum };
  if (path) body.relative_path = path;
  return body;
}

/** Aborts the upload a start made ahead created, once it has (its file will not be sent). */
export function abortPrestart(apiBase, prestart) {
  prestart?.then((record) => record && api(`${apiBase}${record.id}/abort/`, { method: "POST" })).catch(() => {});
}

/** The file chooser's `accept`: the allowed types and their extensions (a phone then offers only
 * those); "" (anything) when every type is allowed. */
export function acceptList(allowedTypes) {
  if (!allowedTypes.length) return "";
  const known = Object.entries(mediaTable().extensions || {});
  const extensions = known.filter(([, type]) => allowedTypes.includes(type)).map(([ext]) => ext);
  return [...allowedTypes, ...extensions].join(",");
}

// A start that failed for the rate (429, waited out in api.js) or a service that was down (503:
// nothing was created) is tried again; any other failure may have created the upload.
const startRetriable = (error) => error.status === 503;

export function guessType(file) {
  if (file.type) return file.type;
  const dot = file.name.lastIndexOf(".");
  return (dot > 0 && typeOfExtension(file.name.slice(dot))) || "application/octet-stream";
}

class Stopped extends Error {
  constructor(why) { super(why); this[why] = true; } // .cancelled or .paused
}

/** Part n (from 1) of a file cut in parts of `partSize` bytes: the last one may be shorter. */
const partOf = (file, partSize, n) => file.slice((n - 1) * partSize, Math.min(n * partSize, file.size));

async function sha256Base64(blob) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** One PUT of `body` to a presigned URL; resolves with the ETag. */
function put(target, body, onProgress, transfer) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    transfer.xhrs.add(xhr);
    xhr.open("PUT", target.url);
    for (const [name, value] of Object.entries(target.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    const done = (error, value) => { transfer.xhrs.delete(xhr); error ? reject(error) : resolve(value); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return done(null, xhr.getResponseHeader("ETag"));
      done(Object.assign(new Error(gettext("The storage answered %(status)s.", { status: xhr.status })), { status: xhr.status }));
    };
    xhr.onerror = () => done(Object.assign(new Error(gettext("The connection was lost.")), { status: 0 }));
    xhr.onabort = () => done(new Stopped(transfer.cancelled ? "cancelled" : "paused"));
    xhr.send(body);
  });
}

/** The part size the page asks for: about 16 parts of 8 to 64 MiB (whole MiB), the server's own
 * default plan (uploader/aws/multipart.py), chosen here so that the first parts' checksums, and so
 * their URLs, go with the start. 0 beyond 625 GiB (over 10,000 parts of 64 MiB): the server plans. */
export function partSizeFor(size) {
  const partSize = Math.max(Math.min(Math.max(8 * MiB, Math.ceil(size / (16 * MiB)) * MiB), 64 * MiB), Math.ceil(size / 10_000));
  return partSize > 64 * MiB ? 0 : partSize;
}

/**
 * A multipart upload's part URLs, signed ahead of the senders in batches: the parts are hashed in
 * order (one at a time: only their checksums are kept), and a URL not in hand is asked for with the
 * next parts' (a batch that doubles, up to what this connection sends in SIGN_AHEAD_SECONDS, so
 * that a URL is used long before it expires). 1 GiB is the start (its first FIRST_PARTS URLs), one
 * request for the rest, and the complete. A URL is used once: a retry (a 403 for an expired one,
 * a pause) signs afresh.
 */
class PartUrls {
  constructor(path, file, partSize, todo, rate) {
    Object.assign(this, { path, file, partSize, todo, rate });
    this.urls = new Map(); // part number: its target, not used yet
    this.hashes = new Map(); // part number: the promise of its SHA-256
    this.hashing = Promise.resolve();
    this.signedUpTo = 0; // how far into `todo` parts have been signed ahead
    this.batch = FIRST_PARTS;
    this.filling = null; // the request under way: one at a time
  }

  blob(n) {
    return partOf(this.file, this.partSize, n);
  }

  /** Its SHA-256, hashed once, after the parts before it (one part's bytes in memory at a time). */
  checksum(n) {
    if (!this.hashes.has(n)) {
      const hashed = this.hashing.then(() => sha256Base64(this.blob(n)));
      this.hashing = hashed.catch(() => {});
      this.hashes.set(n, hashed);
      hashed.catch(() => this.hashes.delete(n)); // a failed read is tried again by the next ask
    }
    return this.hashes.get(n);
  }

  /** The first parts' numbers and checksums, for the start. */
  async first(count) {
    const numbers = this.todo.slice(0, count);
    this.signedUpTo = numbers.length;
    return Promise.all(numbers.map(async (n) => ({ part_number: n, checksum_sha256: await this.checksum(n) })));
  }

  /** URLs signed elsewhere (the start's answer). */
  add(targets = []) {
    for (const target of targets) this.urls.set(target.part_number, target);
  }

  /** Part n's URL: one signed ahead, or a batch signed now. */
  async take(n) {
    for (;;) {
      const target = this.urls.get(n);
      if (target) {
        this.urls.delete(n);
        return target;
      }
      if (!this.filling) {
        this.filling = this.fill(n).finally(() => { this.filling = null; });
        await this.filling;
      } else {
        await this.filling.catch(() => {}); // another part's batch: maybe this one's too
      }
    }
  }

  async fill(n) {
    const ahead = this.todo.slice(this.signedUpTo, this.signedUpTo + this.batch).filter((m) => m !== n && !this.urls.has(m));
    const numbers = [n, ...ahead].slice(0, MAX_PARTS_PER_REQUEST);
    const parts = [];
    for (const m of numbers) parts.push({ part_number: m, checksum_sha256: await this.checksum(m) });
    const { parts: signed } = await api(this.path, { method: "POST", body: { parts } });
    this.add(signed);
    this.signedUpTo = Math.max(this.signedUpTo, this.todo.indexOf(numbers[numbers.length - 1]) + 1);
    const sendable = Math.floor((this.rate() * SIGN_AHEAD_SECONDS) / this.partSize);
    this.batch = Math.max(FIRST_PARTS, Math.min(this.batch * 2, sendable, MAX_PARTS_PER_REQUEST - 1));
  }
}

// --- remembering unfinished multipart uploads across reloads ---

// A file chosen from a folder is known by its path too: two IMG_0001.jpg of one size may differ.
const fingerprint = (file, path = "") => `${RESUME_PREFIX}${path ? `${path}/` : ""}${file.name}:${file.size}:${file.lastModified}`;
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

export function forgetUnfinished(key) { localStorage.removeItem(key); }

/**
 * A transfer of one file. `view` hears `state(name)`, `progress(loaded, total, started, resumed)`;
 * `run()` resolves with the record once the API has been told the bytes are in.
 */
export class Transfer {
  /** `prestart`: a promise of this file's start, made ahead by the batch (single PUTs only);
   * `completer`: gathers this file's complete with others' (the transfer does not wait for it);
   * `extra`: more of the start call (a form field's `destination`, the upload's `metadata`). */
  constructor(apiBase, file, view, { threshold, path = "", prestart = null, completer = null, extra = {} }) {
    Object.assign(this, { apiBase, file, view, threshold, path, prestart, completer, extra });
    // A destination's upload is not resumed as another's (their rules and key prefixes differ).
    this.key = fingerprint(file, extra.destination ? `${extra.destination}:${path}` : path);
    this.xhrs = new Set();
    this.cancelled = false;
    this.paused = false;
    this.waiting = [];
    this.heldAfterPause = null;
    this.record = null;
    // Every network step of this transfer retries by the one policy; an outage shows as "offline".
    this.policy = {
      onOffline: () => this.view.state("offline"),
      onOnline: () => this.view.state(this.paused ? "paused" : "uploading"),
    };
  }

  async run() {
    running.add(this.key);
    try {
      const record = this.file.size > this.threshold ? await this.multipart() : await this.single();
      this.view.state(this.skipped ? "skipped" : "sent");
      return record;
    } finally {
      running.delete(this.key);
    }
  }

  /** Stops sending; what S3 already holds is kept. */
  pause() {
    if (this.cancelled || this.paused) return;
    this.paused = true;
    this.heldAfterPause = null; // a part may land just as its request is aborted: asked again on resume
    for (const xhr of [...this.xhrs]) xhr.abort();
    this.view.state("paused");
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.view.state("uploading");
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Resolves at once unless paused; then when resumed. Throws once cancelled. */
  async gate() {
    while (this.paused && !this.cancelled) await new Promise((resolve) => this.waiting.push(resolve));
    if (this.cancelled) throw new Stopped("cancelled");
  }

  async cancel() {
    this.cancelled = true;
    this.view.state("cancelling");
    for (const xhr of [...this.xhrs]) xhr.abort();
    for (const wake of this.waiting.splice(0)) wake();
    localStorage.removeItem(this.key);
    abortPrestart(this.apiBase, this.prestart);
    this.prestart = null;
    if (this.record) await api(`${this.apiBase}${this.record.id}/abort/`, { method: "POST" }).catch(() => {});
    this.view.state("cancelled");
  }

  /** The parts S3 holds, asked once after each resume (shared by the parts the pause stopped);
   * an answer that cannot be had means none: a part sent twice costs bytes, never the file. */
  heldParts(id) {
    this.heldAfterPause ??= retrying(() => api(`${this.apiBase}${id}/parts/`), this.policy)
      .then(({ parts }) => new Map(parts.map((p) => [p.part_number, p])), () => new Map());
    return this.heldAfterPause;
  }

  /** What the start call says of the file: its name, type and the folder it was chosen from. */
  named() {
    const named = { filename: this.file.name, content_type: guessType(this.file), ...this.extra };
    if (this.path) named.relative_path = this.path;
    return named;
  }

  /** Tells the API the bytes are in; retried like every other step. */
  complete(id, body) {
    return retrying(() => api(`${this.apiBase}${id}/complete/`, { method: "POST", body }), this.policy);
  }

  async single() {
    this.view.state("signing");
    let body = null;
    const presign = async () => api(this.apiBase, { method: "POST", body: (body ??= { ...await singleStart(this.file, this.path), ...this.extra }) });
    for (;;) {
      await this.gate();
      // A single PUT starts over after a pause or a failure; once its URL is (nearly) expired the
      // upload is begun again, the old one aborted so its quota is released.
      if (!this.record && this.prestart) {
        this.record = await this.takePrestart();
        if (this.record?.existing) {
          this.skipped = true;
          return this.record;
        }
        if (this.cancelled && this.record) await api(`${this.apiBase}${this.record.id}/abort/`, { method: "POST" }).catch(() => {});
      }
      if (!this.record || Date.parse(this.record.url_expires_at) - Date.now() < 30_000) {
        if (this.record) await api(`${this.apiBase}${this.record.id}/abort/`, { method: "POST" }).catch(() => {});
        this.record = await retrying(presign, { isRetriable: startRetriable });
        await this.gate();
      }
      this.view.state("uploading");
      const started = performance.now();
      try {
        await retrying(
          () => put(this.record.upload, this.file, (loaded) => this.view.progress(loaded, this.file.size, started, 0), this),
          this.policy,
        );
        break;
      } catch (error) {
        if (!error.paused) throw error;
      }
    }
    if (this.completer) {
      // Gathered with the others' completes; S3's own event verifies the file if this is lost.
      this.completer.add({ id: this.record.id }).catch(() => {});
      return this.record;
    }
    this.view.state("verifying");
    return this.complete(this.record.id);
  }

  /**
   * The stored parts that hold what the file holds now: a part is kept only if its SHA-256 is the
   * local slice's. Another one (the file changed and kept its name, size and time) is sent again,
   * so that the object is the file as it is, not a mix of two versions.
   */
  async stillOurs(parts, partSize) {
    const kept = [];
    for (const part of parts) {
      const slice = partOf(this.file, partSize, part.part_number);
      if (part.checksum_sha256 && part.checksum_sha256 === (await sha256Base64(slice))) kept.push(part);
    }
    return kept;
  }

  /** The start made ahead by the batch; null (start it here) when that call could not be made. */
  async takePrestart() {
    const prestart = this.prestart;
    this.prestart = null;
    try {
      return await prestart;
    } catch (error) {
      if (error.status === 0 || error.status >= 500) return null;
      throw error; // refused for a reason of this file's own: type, size, name, quota
    }
  }

  async multipart() {
    const file = this.file;
    const key = this.key;
    let stored = [];
    const remembered = JSON.parse(localStorage.getItem(key) || "null");
    if (remembered) {
      try {
        this.record = { id: remembered.id };
        const listing = await retrying(() => api(`${this.apiBase}${remembered.id}/parts/`), this.policy);
        Object.assign(this.record, { part_size: listing.part_size, part_count: listing.part_count });
        this.view.state("resuming");
        stored = await this.stillOurs(listing.parts, listing.part_size);
      } catch (error) {
        if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) throw error;
        localStorage.removeItem(key); // finished, expired or gone: start again
        this.record = null;
      }
    }
    let urls = null;
    if (!this.record) {
      this.view.state("signing");
      const body = { ...this.named(), size: file.size };
      const partSize = partSizeFor(file.size);
      if (partSize) {
        // The first parts hashed before the start: their URLs come with it (a request fewer).
        const count = Math.ceil(file.size / partSize);
        urls = new PartUrls(null, file, partSize, Array.from({ length: count }, (_, i) => i + 1), () => 0);
        Object.assign(body, { part_size: partSize, parts: await urls.first(FIRST_PARTS) });
        await this.gate(); // cancelled while hashing: nothing was started
      }
      const created = await retrying(() => api(this.apiBase, { method: "POST", body }), { isRetriable: startRetriable });
      if (this.cancelled) {
        // Cancelled while the start was on its way: what it created is aborted, not left pending.
        await api(`${this.apiBase}${created.id}/abort/`, { method: "POST" }).catch(() => {});
        throw new Stopped("cancelled");
      }
      this.record = { id: created.id, ...created.multipart };
      localStorage.setItem(key, JSON.stringify({ id: created.id, name: this.named().filename, path: this.path, size: file.size, at: Date.now() }));
    }
    await this.gate();
    const { id, part_size: partSize, part_count: partCount } = this.record;
    const etags = new Map(stored.map((p) => [p.part_number, p.etag]));
    // Each part's SHA-256 goes with its ETag to the complete: S3 then checks them as it assembles.
    const checksums = new Map(stored.map((p) => [p.part_number, p.checksum_sha256]));
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
    const queue = [];
    for (let n = 1; n <= partCount; n++) if (!etags.has(n)) queue.push(n);
    const rate = () => (doneBytes - resumedBytes) / Math.max((performance.now() - started) / 1000, 0.001);
    // The order parts are signed ahead in (a copy: the senders take from `queue`).
    if (urls?.partSize === partSize) {
      Object.assign(urls, { path: `${this.apiBase}${id}/parts/`, todo: [...queue], rate });
      urls.add(this.record.parts);
    } else {
      urls = new PartUrls(`${this.apiBase}${id}/parts/`, file, partSize, [...queue], rate);
    }

    // A part URL may have expired (403): each try asks for a fresh one.
    const partRetriable = (error) => retriable(error) || error.status === 403;
    const sendPart = async (n) => {
      const blob = urls.blob(n);
      const checksum = await urls.checksum(n);
      checksums.set(n, checksum); // what S3 holds of part n once it is sent (its URL pins it)
      for (let stopped = false; ; stopped = true) {
        await this.gate();
        if (stopped) {
          // Its request was aborted by a pause, maybe after S3 had stored it (URLs pin the checksum).
          const held = (await this.heldParts(id)).get(n);
          if (held?.size === blob.size && (!held.checksum_sha256 || held.checksum_sha256 === checksum)) {
            doneBytes += blob.size;
            report();
            return held.etag;
          }
        }
        try {
          const etag = await retrying(async () => {
            await this.gate();
            const target = await urls.take(n);
            await this.gate(); // paused while the URL was being signed: nothing goes out until resumed
            return put(target, blob, (loaded) => { inflight.set(n, loaded); report(); }, this);
          }, { ...this.policy, isRetriable: partRetriable, onRetry: () => { inflight.delete(n); report(); } });
          inflight.delete(n);
          doneBytes += blob.size;
          report();
          return etag;
        } catch (error) {
          inflight.delete(n);
          report();
          if (!error.paused) throw error; // paused: wait, then send this part again
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
    const parts = [...etags]
      .sort((a, b) => a[0] - b[0])
      .map(([part_number, etag]) => ({ part_number, etag, checksum_sha256: checksums.get(part_number) || "" }));
    const record = await this.complete(id, { parts });
    localStorage.removeItem(key);
    return record;
  }
}
