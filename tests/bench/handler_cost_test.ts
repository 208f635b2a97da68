import assert from "node:assert/strict";
import { withDeadline } from "../helpers.ts";
import { measureHandlers } from "./handler_cost.ts";

// Not a timing test: this checks that both handlers answer every read of the fake connections
// with the right reply (a wrong one throws), so the figures `handler_cost.ts` prints mean what
// they say. No duration is asserted.
Deno.test({
  name: "handler_cost measures the server's and the floor's handlers over fake connections",
  // The servers it starts keep their handlers waiting on reads that never settle.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cost = await withDeadline(measureHandlers(300, 2), "measureHandlers", 30_000);
    assert.equal(cost.rounds.length, 2);
    for (const r of cost.rounds) {
      assert.ok(Number.isFinite(r.floorNs) && r.floorNs > 0, `floor ${r.floorNs}`);
      assert.ok(Number.isFinite(r.serverNs) && r.serverNs > 0, `server ${r.serverNs}`);
    }
  },
});
