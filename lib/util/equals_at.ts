/**
 * Byte comparison without a view: the framer and the reply cache compare requests in place in
 * the read buffer, where making a `subarray` per request would cost more than the comparison.
 *
 * @module
 */

/** Whether `bytes` holds all of `key` from index `at` on. */
export function equalsAt(bytes: Uint8Array, at: number, key: Uint8Array): boolean {
  if (at < 0 || at + key.length > bytes.length) return false;
  for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false;
  return true;
}
