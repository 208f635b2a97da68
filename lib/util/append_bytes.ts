/**
 * `buffer[0, length)` followed by `bytes[start, end)`: in `buffer` itself when it has room, else
 * in a new buffer at least twice as large (and at least `minimum` bytes), so a framer that
 * gathers a message piece by piece copies each byte a bounded number of times. The caller's
 * length becomes `length + end - start`.
 */
export function appendBytes(
  buffer: Uint8Array,
  length: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  minimum = 256,
): Uint8Array {
  const needed = length + end - start;
  let target = buffer;
  if (needed > buffer.length) {
    target = new Uint8Array(Math.max(needed, buffer.length * 2, minimum));
    target.set(buffer.subarray(0, length));
  }
  target.set(bytes.subarray(start, end), length);
  return target;
}
