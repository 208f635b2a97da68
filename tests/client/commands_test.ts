import assert from "node:assert/strict";
import { parseCommand } from "../../lib/client/commands.ts";

Deno.test("price takes several symbols, case-insensitively, each once", () => {
  assert.deepEqual(parseCommand("price", ["btc", "BTC", "eth", "Btc"]), {
    kind: "price",
    symbols: ["btc", "eth"],
  });
});
