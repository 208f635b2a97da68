/**
 * A request target split into decoded path segments and query parameters. Nothing here maps a
 * path to a file: the server serves no files, and targets that would be dangerous to a server
 * that does (`..`, `%00`, encoded slashes) are refused anyway, so no later change can make them
 * reach one.
 *
 * @module
 */

/** A target the server can route. */
export interface Target {
  readonly kind: "target";
  /** The path's segments, percent-decoded: `/api/v1/coins` is `["api", "v1", "coins"]`. */
  readonly segments: readonly string[];
  /** The query parameters, decoded. */
  readonly query: URLSearchParams;
}

/** A target refused with 400. */
export interface TargetError {
  readonly kind: "error";
  readonly message: string;
}

const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
/** Encoded `/`, `\` and NUL, which would change what the path names once decoded. */
const ENCODED_SEPARATOR = /%(2f|5c|00)/i;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

function fail(message: string): TargetError {
  return { kind: "error", message };
}

/** Parses an origin-form target (`/path?query`). Never throws. */
export function parseTarget(target: string): Target | TargetError {
  if (target.includes("#")) return fail("A request target has no fragment (#)");
  const question = target.indexOf("?");
  const path = question < 0 ? target : target.slice(0, question);
  const queryText = question < 0 ? "" : target.slice(question + 1);
  if (path.includes("\\")) return fail("A path may not hold a backslash");
  if (BAD_PERCENT.test(path) || BAD_PERCENT.test(queryText)) {
    return fail("Bad percent-encoding: expected % followed by two hex digits");
  }
  if (ENCODED_SEPARATOR.test(path)) {
    return fail("A path may not hold an encoded /, \\ or NUL byte (%2F, %5C, %00)");
  }
  const segments: string[] = [];
  for (const raw of path.slice(1).split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return fail("Bad percent-encoding: the decoded path is not UTF-8");
    }
    if (segment === "." || segment === "..") return fail("A path may not hold . or .. segments");
    if (CONTROL.test(segment)) return fail("A path may not hold control characters");
    segments.push(segment);
  }
  // A trailing slash names the same resource: /api/v1/coins/ is /api/v1/coins.
  if (segments.length > 1 && segments.at(-1) === "") segments.pop();
  if (segments.length === 1 && segments[0] === "") segments.pop();
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(queryText);
  } catch {
    return fail("Bad percent-encoding in the query");
  }
  return { kind: "target", segments, query };
}
