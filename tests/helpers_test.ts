import assert from "node:assert/strict";
import { freePort, LineClient, withDeadline } from "./helpers.ts";

/** A listener that accepts and never answers nor closes, until the test ends. */
async function silentServer(t: (port: number) => Promise<void>): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  try {
    await t((listener.addr as Deno.NetAddr).port);
  } finally {
    (await accepted).close();
  }
}

Deno.test("LineClient reads fail with a message at their deadline instead of hanging", async () => {
  await silentServer(async (port) => {
    const client = new LineClient(await Deno.connect({ hostname: "127.0.0.1", port }), 100);
    await assert.rejects(client.readJson(), {
      message: "Timed out after 100 ms waiting for a reply line",
    });
    client.close();
  });
  await silentServer(async (port) => {
    const client = new LineClient(await Deno.connect({ hostname: "127.0.0.1", port }), 100);
    await assert.rejects(client.closedByServer(), {
      message: "Timed out after 100 ms waiting for the server to close the connection",
    });
    client.close();
  });
});

Deno.test("withDeadline passes a settled value through and names what never came", async () => {
  assert.equal(await withDeadline(Promise.resolve(7), "seven"), 7);
  await assert.rejects(withDeadline(new Promise(() => {}), "nothing", 50), {
    message: "Timed out after 50 ms waiting for nothing",
  });
});

Deno.test("freePort gives a port of 127.0.0.1 nothing listens on, which can then be bound", () => {
  const port = freePort();
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536, String(port));
  using listener = Deno.listen({ hostname: "127.0.0.1", port });
  assert.equal(listener.addr.port, port);
});
