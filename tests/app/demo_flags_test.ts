/**
 * `deno task demo` takes the server's flags that make sense for it, from the same table: `--top`,
 * TLS, limits; none that choose or reach a real provider.
 */
import assert from "node:assert/strict";
import { generateSelfSigned } from "../../lib/app/cert.ts";
import { outputWithin } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Runs `deno task demo args` until its output matches `until`, then stops it with SIGINT. */
async function demoUntil(args: string[], until: RegExp): Promise<{ out: string; code: number }> {
  const demo = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "demo", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A safety net, not a wait: a demo that never prints what is expected is killed.
  const killer = setTimeout(() => demo.kill("SIGKILL"), 30_000);
  const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let failure: Error | undefined;
  try {
    while (!until.test(out)) {
      const { value, done } = await reader.read();
      if (done) {
        failure = new Error(`demo exited before ${until}:\n${out}`);
        break;
      }
      out += value;
    }
  } finally {
    try {
      demo.kill("SIGINT");
    } catch {
      // It has exited already: the failure says what it printed.
    }
  }
  const status = await demo.status;
  clearTimeout(killer);
  await reader.cancel();
  out += decoder.decode(await new Response(demo.stderr).arrayBuffer());
  if (failure !== undefined) throw failure;
  return { out, code: status.code };
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
    assert.equal(run.code, 0, run.out);
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
