/**
 * The error of a port the service could not open. The service opens more than one (the socket
 * protocol's and the HTTP listener's), so the error names which.
 *
 * @module
 */

/** A port that could not be opened: the address, and why in `cause`. */
export class ListenError extends Error {
  override name = "ListenError";
  constructor(readonly hostname: string, readonly port: number, options: { cause: unknown }) {
    super(`cannot listen on ${hostname}:${port}`, options);
  }
}
