/**
 * The market's memo of replies by the exact bytes of their requests.
 *
 * @module
 */

import { equalsAt } from "../util/equals_at.ts";

/** Entries per hash at most. */
const MAX_BUCKET = 8;

/**
 * Replies keyed by exact request bytes. A look-up hashes the bytes and compares them with the
 * stored copy, so a hit builds no string and allocates nothing: it only memoizes what
 * `parseRequest` and the reply tables answered for those same bytes.
 */
export class ReplyCache<Reply> {
  readonly #buckets = new Map<number, { key: Uint8Array; reply: Reply }[]>();
  /**
   * The entry found last. Clients that poll or pipeline send the same request again and again;
   * comparing with the last one found first skips hashing and the map.
   */
  #last: { key: Uint8Array; reply: Reply } | null = null;
  size = 0;

  /** The reply stored for the request `bytes[start, end)`, if any. */
  get(bytes: Uint8Array, start: number, end: number): Reply | undefined {
    const last = this.#last;
    if (last !== null && sameRange(last.key, bytes, start, end)) return last.reply;
    const bucket = this.#buckets.get(hashBytes(bytes, start, end));
    if (bucket === undefined) return undefined;
    for (const entry of bucket) {
      if (sameRange(entry.key, bytes, start, end)) {
        this.#last = entry;
        return entry.reply;
      }
    }
    return undefined;
  }

  /**
   * Stores a copy of `line`: the framer's view is valid only during its callback. Returns
   * whether it was stored.
   */
  set(line: Uint8Array, reply: Reply): boolean {
    const hash = hashBytes(line, 0, line.length);
    const entry = { key: line.slice(), reply };
    const bucket = this.#buckets.get(hash);
    if (bucket === undefined) this.#buckets.set(hash, [entry]);
    else if (bucket.length < MAX_BUCKET) bucket.push(entry);
    // Crafted colliding requests must not make one bucket long: past the bound they are parsed.
    else return false;
    this.size++;
    return true;
  }

  /** Replaces (or with `null` removes) the reply stored for exactly `line`, if any. */
  replace(line: Uint8Array, reply: Reply | null): void {
    const bucket = this.#buckets.get(hashBytes(line, 0, line.length)) ?? [];
    const index = bucket.findIndex((entry) => sameRange(entry.key, line, 0, line.length));
    if (index < 0) return;
    if (reply !== null) bucket[index].reply = reply;
    else {
      // The shortcut to the last entry found must not outlive the entry.
      if (this.#last === bucket[index]) this.#last = null;
      bucket.splice(index, 1);
      this.size--;
    }
  }
}

/** FNV-1a, 32 bits, of `bytes[start, end)`. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash >>> 0;
}

/** Whether `key` is `bytes[start, end)`. */
function sameRange(key: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  return key.length === end - start && equalsAt(bytes, start, key);
}
