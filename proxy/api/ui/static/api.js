// The admin API from the browser: every call sends the bearer token typed at login.
//
// The token lives in sessionStorage (this tab only, gone when it closes, never sent
// automatically the way a cookie is), so no other site can make the browser act with it.

const TOKEN_KEY = "pullgate.token";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || "error";
    this.field = error?.field || null;
    this.details = error?.details || [];
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let onUnauthorized = () => {};

/** Called when the API answers 401 (token revoked meanwhile): back to the login form. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/** A call to /api/v1; resolves to {data, headers}; rejects with ApiError. */
export async function api(method, path, { body, query, headers = {}, raw = false, quiet = false } = {}) {
  const url = new URL(BASE + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const sent = { Accept: "application/json", ...headers };
  const secret = token.get();
  if (secret) sent.Authorization = `Bearer ${secret}`;
  const init = { method, headers: sent, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const data = raw ? await response.text() : await readJson(response);
  if (!response.ok) {
    const error = new ApiError(response.status, data?.error);
    if (response.status === 401 && secret && !quiet) onUnauthorized(error);
    throw error;
  }
  return { data, headers: response.headers, status: response.status };
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: `unexpected answer (${response.status})` } };
  }
}

export const get = (path, query) => api("GET", path, { query }).then((r) => r.data);
/** Who the token belongs to; a 401 is the caller's to show (the login form does). */
export const whoami = () => api("GET", "/whoami", { quiet: true }).then((r) => r.data);
export const post = (path, body) => api("POST", path, { body }).then((r) => r.data);
