/**
 * The long tail in the demo, as a user meets it: `deno task demo`, then the client's
 * `search pep`, `price PEPE` and `watch PEPE` (as processes, over real sockets).
 */

import assert from "node:assert/strict";
import { DemoProcess } from "../demo_process.ts";
import { runClient } from "../client_process.ts";

const ROOT = new URL("../../", import.meta.url);

/** `watch args` until it printed `lines` lines; then it is stopped. */
async function watchLines(port: string, args: string[], lines: number): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "client.ts", "--port", port, "watch", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", COLUMNS: "80" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // A safety net, not a wait: a watch that never prints enough is killed, ending the read.
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  let out = "";
  try {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      if (out.split("\n").filter(Boolean).length >= lines) break;
    }
  } finally {
    clearTimeout(killer);
    try {
      child.kill("SIGTERM");
    } catch {
      // It has exited already.
    }
    await child.stdin.close().catch(() => {});
    await child.status;
  }
  return out.split("\n").filter(Boolean);
}

Deno.test("the demo serves the long tail: search pep, price PEPE, watch PEPE", async () => {
  // The demo may write under ./data only.
  const db = `./data/test-demo-long-tail-${crypto.randomUUID()}.sqlite`;
  const demo = new DemoProcess(["--port", "0", "--db", db, "--refresh", "0.5"]);
  try {
    const [, port] = await demo.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    await demo.waitFor(/coin directory: 106 coins listed by coingecko/);
    const [searchCode, search] = await runClient(port, ["search", "pep"]);
    assert.equal(searchCode, 0, search);
    assert.match(search.split("\n")[0], /^PEPE\s+Pepe\s+\(id:pepe\)$/);
    assert.match(search, /PEPECOIN\s+PepeCoin/);
    const [priceCode, price] = await runClient(port, ["price", "PEPE"]);
    assert.equal(priceCode, 0, price);
    // The name alone: it is the symbol (lib/text/format_coin.ts's title).
    assert.match(price, /^Pepe\n/);
    assert.match(price, /Rank\s+—/);
    const lines = await watchLines(port, ["PEPE"], 2);
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.ok(lines.every((line) => line.includes("PEPE")), lines.join("\n"));
    assert.notEqual(lines[0], lines[1], "the walk moved PEPE's price");
  } finally {
    const { code } = await demo.stop();
    assert.equal(code, 130);
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(new URL(db + suffix, ROOT)).catch(() => {});
    }
  }
});
