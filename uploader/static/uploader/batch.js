// The batch: every file chosen or dropped waits in one bounded queue and only a few transfer at a
// time, so a folder of a thousand photos is a thousand waits, not a thousand requests at once.
// The batch as a whole is shown (files done of total, bytes, rate, time left), with pause all,
// resume all, retry failed and cancel all, and a summary once nothing is left to do. Only the
// transfers under way, the failed ones and the last few finished have a card: the page's size does
// not grow with the batch.
import { onThrottled } from "./api.js";
import { announce, el } from "./dom.js";
import { formatBytes, gettext } from "./i18n.js";

export const FILES_AT_ONCE = 4; // measured: see the README's "Many files at once"
// Finished cards kept on the page (one on a phone's screen); older ones fold into the summary.
const KEEP_FINISHED = () => (window.matchMedia?.("(max-width: 640px)").matches ? 1 : 5);
const SHOWN_REFUSALS = 20; // refusals listed by name in the summary; the rest are counted
const AHEAD = 16; // files started ahead of their turn, in one batch call, once half are used

function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return gettext("%(n)s s", { n: Math.max(1, Math.round(seconds)) });
  if (seconds < 3600) return gettext("%(n)s min", { n: Math.round(seconds / 60) });
  return gettext("%(n)s h", { n: (seconds / 3600).toFixed(1) });
}

/**
 * `run(job)` starts one job and resolves when it settles (resolving false when it failed and may
 * be tried again); a job is `{ name, path, size, start(), pause(), resume(), cancel(), again() }`
 * as made by the page. `container` receives the batch panel.
 */
export class Batch {
  constructor(container, { limit = FILES_AT_ONCE } = {}) {
    this.limit = limit;
    this.waiting = [];
    this.active = new Set();
    this.failed = new Set();
    this.finishedCards = [];
    this.held = false; // "pause all": nothing new starts, and what runs is paused
    this.reset();
    this.panel = this.draw(container);
    onThrottled((until) => { this.throttledUntil = until; this.render(); });
  }

  reset() {
    Object.assign(this, {
      total: 0, totalBytes: 0, sent: 0, sentBytes: 0, skipped: 0, cancelled: 0, refusals: [], empties: [],
      loaded: new Map(), startedAt: 0, throttledUntil: 0,
    });
    this.failed.clear();
  }

  draw(container) {
    const button = (cls, text, onclick) => {
      const node = el("button", { type: "button", class: cls, text });
      node.addEventListener("click", onclick);
      return node;
    };
    this.count = el("span", { class: "batch-count" });
    this.bytes = el("span", { class: "batch-bytes" });
    this.bar = el("progress", { value: "0", max: "1", "aria-label": gettext("Progress of the whole batch") });
    this.pauseAll = button("pause-all", gettext("Pause all"), () => this.hold());
    this.resumeAll = button("resume-all", gettext("Resume all"), () => this.release());
    this.retryFailed = button("retry-failed", gettext("Retry failed"), () => this.retry());
    this.cancelAll = button("cancel-all", gettext("Cancel all"), () => this.cancel());
    this.summary = el("div", { class: "batch-summary" });
    const panel = el("div", { id: "batch", class: "batch", hidden: true, role: "group", "aria-label": gettext("All transfers") },
      el("p", { class: "batch-line" }, this.count, " · ", this.bytes), this.bar,
      el("p", { class: "actions" }, this.pauseAll, this.resumeAll, this.retryFailed, this.cancelAll), this.summary);
    container.append(panel);
    return panel;
  }

  /** Adds jobs (and what was refused before any request) to the batch; a finished batch starts anew. */
  add(jobs, { refusals = [], empties = [] } = {}) {
    if (!this.busy()) this.reset();
    this.startedAt ||= performance.now();
    for (const job of jobs) {
      this.total++;
      this.totalBytes += job.size;
      this.waiting.push(job);
    }
    this.total += refusals.length;
    this.refusals.push(...refusals);
    this.empties.push(...empties);
    this.pump();
    this.render();
  }

  busy() { return this.active.size > 0 || this.waiting.length > 0; }

  /** Starts queued jobs while there is room. */
  pump() {
    if (this.held) return;
    // The next files are started ahead in one batch call, those about to go first among them.
    const ahead = this.waiting.slice(0, AHEAD);
    if (ahead.filter((job) => job.prepared).length <= AHEAD / 2) for (const job of ahead) job.prepare?.();
    while (this.active.size < this.limit && this.waiting.length) this.launch(this.waiting.shift());
  }

  launch(job) {
    this.active.add(job);
    this.failed.delete(job);
    job.start().then((outcome) => {
      this.active.delete(job);
      this.loaded.delete(job);
      if (outcome === "sent") { this.sent++; this.sentBytes += job.size; }
      else if (outcome === "skipped") { this.skipped++; this.totalBytes -= job.size; }
      else if (outcome === "cancelled") { this.cancelled++; this.totalBytes -= job.size; }
      else this.failed.add(job);
      this.pump();
      this.render();
      if (!this.busy()) this.finish();
    });
  }

  /** A job's bytes sent so far (the card reports them). */
  progress(job, loaded) {
    this.loaded.set(job, loaded);
    this.renderSoon();
  }

  /** A finished job's card: only the newest few stay. */
  finished(card) {
    this.finishedCards.push(card);
    const keep = KEEP_FINISHED();
    while (this.finishedCards.length > keep) this.finishedCards.shift().remove();
  }

  /** One failed job tried again (its card's Retry, or the connection's return). */
  requeue(job) {
    if (this.active.has(job) || this.waiting.includes(job)) return;
    if (!this.failed.delete(job)) { // failed in a batch that has since ended: it joins this one
      if (!this.busy()) this.reset();
      this.total++;
      this.totalBytes += job.size;
      this.startedAt ||= performance.now();
    }
    job.again();
    this.waiting.push(job);
    this.pump();
    this.render();
  }

  /** One job cancelled from its card: it leaves the batch's count of bytes. */
  forget(job) {
    const queued = this.waiting.indexOf(job);
    if (queued >= 0) this.waiting.splice(queued, 1);
    if (queued >= 0 || this.failed.delete(job)) {
      this.cancelled++;
      this.totalBytes -= job.size;
      this.render();
      if (!this.busy()) this.finish();
    }
  }

  hold() {
    this.held = true;
    for (const job of this.active) job.pause();
    this.render();
  }

  release() {
    this.held = false;
    for (const job of this.active) job.resume();
    this.pump();
    this.render();
  }

  retry() {
    const again = [...this.failed];
    this.failed.clear();
    this.held = false;
    for (const job of again) { job.again(); this.waiting.push(job); }
    this.pump();
    this.render();
  }

  cancel() {
    const queued = this.waiting.splice(0);
    for (const job of queued) { this.cancelled++; this.totalBytes -= job.size; job.drop(); }
    for (const job of [...this.active, ...this.failed]) job.cancel();
    this.cancelled += this.failed.size;
    for (const job of this.failed) this.totalBytes -= job.size;
    this.failed.clear();
    this.held = false;
    this.render();
    if (!this.busy()) this.finish();
  }

  renderSoon() {
    this.frame ??= requestAnimationFrame(() => { this.frame = null; this.render(); });
  }

  render() {
    const panel = this.panel;
    panel.hidden = this.total < 2; // one file: its card says it all
    let loaded = this.sentBytes;
    for (const bytes of this.loaded.values()) loaded += bytes;
    const settled = this.sent + this.skipped + this.failed.size + this.refusals.length + this.cancelled;
    this.count.textContent = gettext("%(done)s of %(total)s files", { done: settled, total: this.total });
    let line = gettext("%(loaded)s of %(total)s", { loaded: formatBytes(loaded), total: formatBytes(this.totalBytes) });
    const seconds = (performance.now() - this.startedAt) / 1000;
    if (this.busy() && seconds > 1 && loaded > 0) {
      const rate = loaded / seconds;
      line += ` · ${formatBytes(rate)}/s`;
      const left = (this.totalBytes - loaded) / rate;
      if (left > 0) line += ` · ${gettext("about %(time)s left", { time: duration(left) })}`;
    }
    const throttled = this.throttledUntil - Date.now();
    if (this.busy() && throttled > 0) {
      line += ` · ${gettext("the server asked us to slow down: going on in %(time)s", { time: duration(throttled / 1000) })}`;
      clearTimeout(this.throttleTimer);
      this.throttleTimer = setTimeout(() => this.render(), Math.min(throttled, 1000));
    }
    this.bytes.textContent = line;
    this.bar.max = this.totalBytes || 1;
    this.bar.value = Math.min(loaded, this.totalBytes);
    panel.dataset.state = this.held ? "paused" : this.busy() ? "running" : "done";
    panel.dataset.sent = String(this.sent);
    panel.dataset.skipped = String(this.skipped);
    panel.dataset.failed = String(this.failed.size);
    this.pauseAll.hidden = this.held || !this.busy();
    this.resumeAll.hidden = !this.held;
    this.retryFailed.hidden = !this.failed.size || this.busy();
    this.cancelAll.hidden = !this.busy() && !this.failed.size;
  }

  /** Nothing left to run: the summary says what happened to every file. */
  finish() {
    const parts = [gettext("%(n)s sent", { n: this.sent })];
    if (this.skipped) parts.push(gettext("%(n)s already uploaded", { n: this.skipped }));
    if (this.failed.size) parts.push(gettext("%(n)s failed", { n: this.failed.size }));
    if (this.refusals.length) parts.push(gettext("%(n)s refused before sending", { n: this.refusals.length }));
    if (this.cancelled) parts.push(gettext("%(n)s cancelled", { n: this.cancelled }));
    const items = [...this.refusals.slice(0, SHOWN_REFUSALS).map(({ name, reason }) => el("li", { text: `${name}: ${reason}` }))];
    if (this.refusals.length > SHOWN_REFUSALS) {
      items.push(el("li", { text: gettext("and %(n)s more refused", { n: this.refusals.length - SHOWN_REFUSALS }) }));
    }
    for (const folder of this.empties.slice(0, SHOWN_REFUSALS)) items.push(el("li", { text: gettext("%(name)s: the folder is empty.", { name: folder }) }));
    const text = parts.join(" · ");
    this.summary.replaceChildren(el("p", { class: "batch-total", text }), items.length ? el("ul", {}, ...items) : "");
    this.render();
    if (this.total > 1) announce(text);
  }
}
