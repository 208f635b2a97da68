/**
 * The one error every upstream failure becomes.
 *
 * @module
 */

/** The upstream failed or answered something unusable. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  /** The HTTP status, when the upstream answered with a non-2xx one. */
  readonly status?: number;
  /** How long the upstream asked us to wait (from `Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}
