// Calls to the upload API from the signed-in page: JSON in and out, the CSRF token on writes, and
// one error type carrying the server's status, code and (translated) message. A throttled call
// (429) is never an error here: the rate belongs to the person, not to the call, so every call of
// the page waits out the server's Retry-After together and is then sent again.
import { gettext } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && typeof body.detail === "string" && body.detail) || gettext("The server answered %(status)s.", { status }));
    this.status = status;
    this.code = (body && body.code) || "";
    this.retryAfter = retryAfter;
  }
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

let throttledUntil = 0; // no call leaves the page before this time (ms since the epoch)
const throttleListeners = new Set();

/** `listener(untilMs)` hears each time the server asks the page to slow down; returns a remover. */
export function onThrottled(listener) {
  throttleListeners.add(listener);
  return () => throttleListeners.delete(listener);
}

/** How long a 429 asks us to wait: its Retry-After (seconds), or a second; a little jitter so
 * the calls that waited together do not all arrive in the same instant. */
function throttleWait(error) {
  const seconds = Number(error.retryAfter);
  return (Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) : 1) * 1000 + Math.random() * 250;
}

async function once(path, method, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: gettext("The server cannot be reached.") });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("Retry-After"));
  return data;
}

export async function api(path, { method = "GET", body } = {}) {
  for (;;) {
    const wait = throttledUntil - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      return await once(path, method, body);
    } catch (error) {
      if (error.status !== 429) throw error;
      throttledUntil = Math.max(throttledUntil, Date.now() + throttleWait(error));
      for (const listener of throttleListeners) listener(throttledUntil);
    }
  }
}
