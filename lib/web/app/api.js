/**
 * The server's JSON API (`/api/v1/...`), always revalidated: the page must never show a cached
 * snapshot after the server has a newer one.
 *
 * @module
 */

/** An error answer of the API, or a network failure (code `NETWORK`). */
export class ApiError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * GETs `path` and returns its JSON body.
 *
 * @param {string} path
 * @returns {Promise<any>}
 * @throws {ApiError}
 */
export async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { cache: "no-cache", headers: { accept: "application/json" } });
  } catch {
    throw new ApiError("NETWORK", "the server cannot be reached");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: reported below by status.
  }
  if (!response.ok) {
    const error = body !== null && typeof body === "object" ? body.error : undefined;
    throw new ApiError(
      typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
      typeof error?.message === "string" ? error.message : `HTTP status ${response.status}`,
    );
  }
  if (body === null) throw new ApiError("BAD_REPLY", `${path} did not answer JSON`);
  return body;
}

/**
 * `/api/v1/<path>` with `currency` in the query (USD, the server's default, left out).
 *
 * @param {string} path
 * @param {string} currency
 * @param {Record<string, string>} [extra]
 * @returns {string}
 */
export function apiPath(path, currency, extra = {}) {
  const query = new URLSearchParams(currency === "USD" ? extra : { ...extra, currency });
  const text = query.toString();
  return `/api/v1/${path}${text === "" ? "" : "?"}${text}`;
}
