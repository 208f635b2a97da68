import assert from "node:assert/strict";
import { WatchRegistry } from "../../lib/server/watch_registry.ts";
import { MAX_WATCHED } from "../../lib/wire/limits.ts";

/** The watchers of a symbol as a sorted list, [] for none. */
function watchers<W>(registry: WatchRegistry<W>, symbol: string): W[] {
  return [...(registry.watchersOf(symbol) ?? [])].sort();
}

Deno.test("watch indexes both ways and unwatch undoes it", () => {
  const registry = new WatchRegistry<string>();
  assert.deepEqual(registry.watch("a", ["BTC", "ETH"]), { ok: true });
  assert.deepEqual(registry.watch("b", ["ETH"]), { ok: true });
  assert.deepEqual(watchers(registry, "BTC"), ["a"]);
  assert.deepEqual(watchers(registry, "ETH"), ["a", "b"]);
  assert.deepEqual(registry.unwatch("a", ["ETH"]), ["BTC"]);
  assert.deepEqual(watchers(registry, "ETH"), ["b"]);
  assert.deepEqual(registry.unwatch("b", ["ETH"]), []);
  // A symbol nobody watches any more leaves the index, so it cannot grow without bound.
  assert.equal(registry.watchersOf("ETH"), undefined);
});

Deno.test("unwatch lists what is still watched, in first-watched order", () => {
  const registry = new WatchRegistry<string>();
  registry.watch("a", ["SOL", "BTC"]);
  registry.watch("a", ["ETH", "BTC"]);
  assert.deepEqual(registry.unwatch("a", []), ["SOL", "BTC", "ETH"]);
  assert.deepEqual(registry.unwatch("a", ["DOGE", "BTC"]), ["SOL", "ETH"]);
  assert.deepEqual(registry.unwatch("nobody", null), []);
});

Deno.test("unwatch with null and remove drop every symbol of one watcher only", () => {
  const registry = new WatchRegistry<string>();
  registry.watch("a", ["BTC", "ETH"]);
  registry.watch("b", ["BTC"]);
  assert.deepEqual(registry.unwatch("a", null), []);
  assert.deepEqual(watchers(registry, "BTC"), ["b"]);
  assert.equal(registry.watchersOf("ETH"), undefined);
  registry.watch("a", ["ETH"]);
  registry.remove("a");
  registry.remove("a");
  assert.equal(registry.watchersOf("ETH"), undefined);
  assert.deepEqual(watchers(registry, "BTC"), ["b"]);
});

Deno.test("the cap counts only new symbols and refuses all or nothing", () => {
  const registry = new WatchRegistry<string>(3);
  assert.deepEqual(registry.watch("a", ["A", "B"]), { ok: true });
  // Already watched symbols do not count again.
  assert.deepEqual(registry.watch("a", ["A", "B", "C"]), { ok: true });
  assert.deepEqual(registry.watch("a", ["D", "E"]), { ok: false, watching: 3 });
  assert.equal(registry.watchersOf("D"), undefined);
  assert.deepEqual(registry.unwatch("a", []), ["A", "B", "C"]);
  // Another watcher has a cap of its own.
  assert.deepEqual(registry.watch("b", ["D", "E", "F"]), { ok: true });
  assert.deepEqual(registry.watch("c", ["A", "B", "C", "D"]), { ok: false, watching: 0 });
});

Deno.test("the default cap is the protocol's MAX_WATCHED", () => {
  const registry = new WatchRegistry<number>();
  assert.equal(registry.maxPerWatcher, MAX_WATCHED);
  const symbols = Array.from({ length: MAX_WATCHED + 1 }, (_, i) => `S${i}`);
  assert.deepEqual(registry.watch(1, symbols.slice(0, MAX_WATCHED)), { ok: true });
  assert.deepEqual(registry.watch(1, symbols.slice(MAX_WATCHED)), {
    ok: false,
    watching: MAX_WATCHED,
  });
  assert.throws(() => new WatchRegistry(0), RangeError);
});

Deno.test("watchers are compared by identity", () => {
  const registry = new WatchRegistry<{ id: number }>();
  const one = { id: 1 };
  const twin = { id: 1 };
  registry.watch(one, ["BTC"]);
  registry.watch(twin, ["BTC"]);
  assert.equal(registry.watchersOf("BTC")?.size, 2);
  registry.remove(one);
  assert.deepEqual([...registry.watchersOf("BTC") ?? []], [twin]);
});
