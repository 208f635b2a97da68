/**
 * `deno task demo` takes the server's flags that make sense for it, from the same table: `--top`,
 * TLS, limits; none that choose or reach a real provider.
 */
import assert from "node:assert/strict";
import { generateSelfSigned } from "../../lib/app/cert.ts";
import { outputWithin } from "../helpers.ts";
import { DemoProcess } from "../demo_process.ts";
import { DatabaseSync } from "node:sqlite";

const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Runs `deno task demo args` until its output matches `until`, then stops it with SIGINT. */
async function demoUntil(args: string[], until: RegExp): Promise<{ out: string; code: number }> {
  const demo = new DemoProcess(args);
  const waited = await demo.waitFor(until).then(() => null, (error: Error) => error);
  const stopped = await demo.stop();
  if (waited !== null) throw waited;
  return stopped;
}

async function removeDb(db: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.remove(`${ROOT}${db}${suffix}`).catch(() => {});
  }
}

Deno.test("deno task demo --top 50 ingests 50 of the recorded coins", async () => {
  const db = `./data/test-demo-top-${crypto.randomUUID()}.sqlite`;
  try {
    const run = await demoUntil(
      ["--port", "0", "--db", db, "--top", "50", "--refresh", "600"],
      /^ingested \d+ coins/m,
    );
    assert.match(run.out, /^ingested 50 coins/m);
    // Ctrl-C: 130, as under npx, whose Node wrapper Ctrl-C ends too.
    assert.equal(run.code, 130, run.out);
    assert.match(run.out, /^stopped$/m);
  } finally {
    await removeDb(db);
  }
});

Deno.test("deno task demo over TLS says how the client trusts it", async () => {
  const id = crypto.randomUUID();
  const db = `./data/test-demo-tls-${id}.sqlite`;
  const cert = `./data/test-demo-${id}-cert.pem`;
  const key = `./data/test-demo-${id}-key.pem`;
  const pair = await generateSelfSigned();
  await Deno.writeTextFile(`${ROOT}${cert}`, pair.cert);
  await Deno.writeTextFile(`${ROOT}${key}`, pair.key);
  try {
    const run = await demoUntil(
      ["--port", "0", "--db", db, "--tls-cert", cert, "--tls-key", key, "--refresh", "600"],
      /^try: .*$/m,
    );
    assert.match(run.out, /^listening on 127\.0\.0\.1:\d+ \(tls\)$/m);
    assert.match(
      run.out,
      new RegExp(`^try: deno task -q client --port \\d+ --ca ${cert} list$`, "m"),
    );
  } finally {
    await removeDb(db);
    await Deno.remove(`${ROOT}${cert}`).catch(() => {});
    await Deno.remove(`${ROOT}${key}`).catch(() => {});
  }
});

Deno.test("deno task demo refuses the flags of real providers, and a --top past its data", async () => {
  for (
    const [args, pattern] of [
      [["--providers", "coingecko"], /Unknown option '--providers'/],
      [["--api-url", "https://example.com"], /Unknown option '--api-url'/],
      [["--top", "101"], /Invalid --top "101": expected a whole number, 1 to 100/],
    ] as const
  ) {
    const { code, stderr } = await outputWithin(
      Deno.execPath(),
      { args: ["task", "-q", "demo", ...args], cwd: ROOT, stdout: "null", stderr: "piped" },
      "deno task demo",
    );
    assert.equal(code, 2);
    assert.match(decoder.decode(stderr), pattern);
  }
});

/** BTC's price in the demo database's history, oldest first. */
function btcHistory(db: string): number[] {
  using sqlite = new DatabaseSync(`${ROOT}${db}`, { readOnly: true });
  return sqlite.prepare(
    "SELECT price FROM price_history WHERE symbol = 'BTC' ORDER BY fetched_at",
  ).all().map((row) => (row as { price: number }).price);
}

Deno.test("a restarted demo continues its walk from the prices it stored", async () => {
  const db = `./data/test-demo-story-${crypto.randomUUID()}.sqlite`;
  const flags = ["--port", "0", "--db", db, "--log-level", "debug"];
  try {
    // Three refreshes: the recording, then two steps of the walk.
    await demoUntil([...flags, "--refresh", "0.05"], /(^ingested [^]*){3}/m);
    const first = btcHistory(db);
    assert.ok(first.length >= 3, `${first.length} rows`);
    assert.notEqual(first.at(-1), 20220, "the walk moved");
    await demoUntil([...flags, "--refresh", "600"], /^ingested /m);
    const both = btcHistory(db);
    assert.equal(both.length, first.length + 1);
    assert.equal(both.at(-1), first.at(-1), "the second run starts where the first ended");
  } finally {
    await removeDb(db);
  }
});
