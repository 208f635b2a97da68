/**
 * The messages between `SqliteRepository` and its workers: one per {@linkcode SqliteStore}
 * method, with its arguments.
 *
 * @module
 */

import type { SqliteStore } from "./_sqlite_store.ts";

type Methods = {
  [K in keyof SqliteStore]: SqliteStore[K] extends (...args: infer A) => unknown ? A : never;
};

/** A call of a store method, or `open`. */
export type StoreCall =
  & { id: number }
  & (
    | { method: "open"; args: Parameters<typeof SqliteStore.open> }
    | {
      [K in Exclude<keyof Methods, typeof Symbol.dispose>]: { method: K; args: Methods[K] };
    }[Exclude<keyof Methods, typeof Symbol.dispose>]
  );

/** The outcome of a call: its result, or the error's name and message. */
export type StoreReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; name: string; message: string };
