// The console's only way to the service: the public /api/v1 with the API
// token the user signed in with (kept in sessionStorage: this tab, this
// session).

const TOKEN_KEY = 'fleetjobs.apiToken';

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx, with the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Listeners told when the API says the token is not (or no longer) valid. */
const unauthorizedListeners = new Set();
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A path segment (names may hold spaces, dots and parentheses). */
export const seg = encodeURIComponent;

export async function api(method, path, body, token = storedToken()) {
  const headers = { authorization: `Bearer ${token ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `The service did not answer (${e.message}).`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    const requestId = response.headers.get('x-request-id');
    const message =
      error.message ??
      `${response.status} ${response.statusText}${requestId ? ` (request ${requestId})` : ''}`;
    if (response.status === 401) unauthorizedListeners.forEach((l) => l());
    throw new ApiError(response.status, error.code ?? 'Error', message);
  }
  return data;
}

export const get = (path) => api('GET', path);
