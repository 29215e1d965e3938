// Calls that many transfers make at about the same time, gathered into the API's batch calls
// (up to 100 items each): the starts of small files, made a little ahead of their turn, and the
// completes of single PUTs. One call at a time: what arrives meanwhile goes in the next. Each item is answered on its own: a refused item rejects its own
// promise with the server's status, code and message; a failed call is tried again as a whole.
import { api, ApiError } from "./api.js";
import { retrying } from "./retry.js";

const MAX_ITEMS = 100;

export class Gatherer {
  /** `path` takes `{uploads: [...]}` and answers `{results: [{status, upload?, error?}]}`. */
  constructor(path, { waitMs = 25 } = {}) {
    Object.assign(this, { path, waitMs, pending: [], timer: null, sending: false });
  }

  add(item) {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.sending) return; // sent when the call under way has its answer
      if (this.pending.length >= MAX_ITEMS) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.waitMs);
    });
  }

  async flush() {
    clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0, MAX_ITEMS);
    if (!batch.length) return;
    this.sending = true;
    try {
      // A lost connection or a passing 5xx is tried again (nothing was started by a failed call);
      // a throttled call waits inside api().
      const { results } = await retrying(() => api(this.path, { method: "POST", body: { uploads: batch.map((b) => b.item) } }));
      batch.forEach(({ resolve, reject }, i) => {
        const result = results?.[i];
        // 200 (not 201): the server already holds this very file, and nothing is to be sent.
        if (result && result.status < 300) resolve({ ...result.upload, existing: result.status === 200 });
        else reject(new ApiError(result?.status ?? 500, result?.error));
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
    } finally {
      this.sending = false;
      if (this.pending.length) this.flush();
    }
  }
}
