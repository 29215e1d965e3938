// The one retry policy of the browser uploader: which failures are worth another try, how long to
// wait before it, and how many tries there are. Every network step (part URLs, PUTs, complete)
// goes through `retrying`.

export const ATTEMPTS = 6;

/** Network errors (status 0), timeouts, throttling and server errors pass with time. */
export function retriable(error) {
  if (!error || error.cancelled || error.paused) return false;
  const status = error.status;
  return status === 0 || status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Exponential backoff with jitter; a Retry-After from the server wins (capped at 30 s). */
export function delay(attempt, error) {
  const after = Number(error && error.retryAfter);
  if (after > 0) return Math.min(after, 30) * 1000;
  return Math.min(8000, 400 * 2 ** attempt) * (0.75 + Math.random() / 2);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const offline = () => globalThis.navigator?.onLine === false;
const online = () => new Promise((resolve) => globalThis.addEventListener("online", resolve, { once: true }));

/**
 * Runs `step(attempt)` until it succeeds, fails with an error `isRetriable` refuses, or the
 * attempts run out; `onRetry(error, attempt)` hears each failure that will be tried again. A
 * network failure while the browser is offline costs no attempt: the step waits for the
 * connection (`onOffline`, then `onOnline`) and runs again.
 */
export async function retrying(step, {
  attempts = ATTEMPTS, isRetriable = retriable, onRetry = () => {}, onOffline = () => {}, onOnline = () => {},
} = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step(attempt);
    } catch (error) {
      if (error?.status === 0 && offline()) {
        onOffline(error);
        await online();
        onOnline();
        attempt--;
        continue;
      }
      if (attempt >= attempts || !isRetriable(error)) throw error;
      onRetry(error, attempt);
      await sleep(delay(attempt, error));
    }
  }
}
