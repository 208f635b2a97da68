/**
 * The worker that owns one SQLite connection: it runs {@linkcode SqliteStore} calls posted by
 * `SqliteRepository`, one at a time, so a slow query or a lock held by another process (a busy
 * wait of up to the busy timeout) stalls this thread, never the server's event loop.
 *
 * Messages in: `{ id, method, args }`; out: `{ id, ok: true, result }` or
 * `{ id, ok: false, name, message }`.
 *
 * @module
 */

import { SqliteStore } from "./_sqlite_store.ts";
import type { StoreCall, StoreReply } from "./_sqlite_protocol.ts";

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<StoreCall>) => void) | null;
  postMessage(message: StoreReply): void;
};

let store: SqliteStore | null = null;

function run(call: StoreCall): unknown {
  if (call.method === "open") {
    store = SqliteStore.open(...call.args);
    return null;
  }
  if (call.method === "close") {
    store?.close();
    store = null;
    return null;
  }
  if (store === null) throw new Error("Cannot use the database: it is closed");
  switch (call.method) {
    case "saveSnapshot":
      return store.saveSnapshot(...call.args);
    case "loadSnapshot":
      return store.loadSnapshot();
    case "latestSnapshotTime":
      return store.latestSnapshotTime();
    case "loadRates":
      return store.loadRates();
    case "historySeries":
      return store.historySeries(...call.args);
    case "candles":
      return store.candles(...call.args);
    case "pruneHistoryBatch":
      return store.pruneHistoryBatch(...call.args);
    case "sizeBytes":
      return store.sizeBytes();
    case "saveDirectory":
      return store.saveDirectory(...call.args);
    case "loadDirectory":
      return store.loadDirectory(...call.args);
    case "saveTracked":
      return store.saveTracked(...call.args);
    case "loadTracked":
      return store.loadTracked();
    case "dropTracked":
      return store.dropTracked(...call.args);
    case "wishCoins":
      return store.wishCoins(...call.args);
    case "takeWishes":
      return store.takeWishes();
  }
}

scope.onmessage = (event) => {
  const call = event.data;
  try {
    scope.postMessage({ id: call.id, ok: true, result: run(call) ?? null });
  } catch (error) {
    const { name = "Error", message = String(error) } = error instanceof Error ? error : {};
    scope.postMessage({ id: call.id, ok: false, name, message });
  }
};
