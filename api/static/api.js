// Talking to the API: every call carries the session's bearer token.

const TOKEN_KEY = "vad.token";
const WHO_KEY = "vad.session";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get info() {
    try {
      return JSON.parse(sessionStorage.getItem(WHO_KEY) || "null");
    } catch {
      return null;
    }
  },
  get isAdmin() {
    return Boolean(this.info?.scopes?.includes("admin"));
  },
  save(token, info) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(WHO_KEY, JSON.stringify(info));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(WHO_KEY);
    blobCache.forEach((url) => URL.revokeObjectURL(url));
    blobCache.clear();
  },
};

let unauthorizedHandler = () => {};
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

async function describe(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail ?? body);
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

/** fetch() with the token; JSON in and out; non-2xx becomes an ApiError. */
export async function request(path, { method = "GET", body, token, raw = false, signal } = {}) {
  const bearer = token ?? session.token;
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, `Could not reach the API (${error.message}).`);
  }
  if (!response.ok) {
    const error = new ApiError(response.status, await describe(response));
    if (response.status === 401 && token === undefined) unauthorizedHandler(error);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Images and clips need the token too, so they are fetched and shown as blob: URLs.
const blobCache = new Map();
const BLOB_CACHE_SIZE = 200;

export async function blobUrl(path) {
  if (blobCache.has(path)) return blobCache.get(path);
  const response = await request(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  blobCache.set(path, url);
  if (blobCache.size > BLOB_CACHE_SIZE) {
    const [oldest, oldUrl] = blobCache.entries().next().value;
    blobCache.delete(oldest);
    URL.revokeObjectURL(oldUrl);
  }
  return url;
}
