/**
 * Writing a whole buffer to a connection whose `write` may take part of it.
 *
 * @module
 */

/** Anything with `Deno.Conn`'s `write`. */
export interface ByteWriter {
  /** Writes some of `bytes` and resolves with how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes every byte of `bytes`, however many calls that takes. */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await writer.write(bytes.subarray(offset));
  }
}
