// Calls to the upload API from the signed-in page: JSON in and out, the CSRF token on writes, and
// one error type carrying the server's status, code and (translated) message.
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

export async function api(path, { method = "GET", body } = {}) {
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
