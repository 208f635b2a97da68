/**
 * The tasks a newcomer runs, as real processes with the permissions `deno.json` gives them:
 * `deno task server`, `deno task client`, `--help`, bad usage and clean shutdown.
 */
import assert from "node:assert/strict";
import { startFakeUpstream } from "./fakes/fake_upstream.ts";
import { freePort, outputWithin } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Runs `deno task NAME args` in the repository with `stdin` piped in. */
async function task(name: string, args: string[], stdin = "") {
  const { code, stdout, stderr } = await outputWithin(
    Deno.execPath(),
    {
      args: ["task", "-q", name, ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    },
    `deno task ${name}`,
    60_000,
    stdin,
  );
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

/** A running `deno task server` process. */
function startServerTask(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "server", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // A safety net, not a wait: a server that never prints what is expected is killed, which ends
  // the read below with the output so far.
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  child.status.finally(() => clearTimeout(killer));
  let out = "";
  const waitFor = async (pattern: RegExp): Promise<RegExpExecArray> => {
    while (true) {
      const match = pattern.exec(out);
      if (match) return match;
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before ${pattern}:\n${out}`);
      out += value;
    }
  };
  const rest = async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
    return out;
  };
  return { child, waitFor, rest, stderr: child.stderr };
}

Deno.test("deno task server, then deno task client against it, then SIGINT", async () => {
  await using upstream = await startFakeUpstream();
  const db = `./data/test-tasks-${crypto.randomUUID()}.sqlite`;
  const server = await startServerTask([
    ...["--port", "0", "--http-port", "0", "--db", db, "--api-url", upstream.baseUrl],
    ...["--providers", "coingecko"],
  ]);
  try {
    const [, host, port] = await server.waitFor(/^listening on ([\d.]+):(\d+) \(tcp\)$/m);
    assert.equal(host, "127.0.0.1");
    await server.waitFor(/^ingested 10 coins from 127\.0\.0\.1:\d+ in \d+ ms$/m);

    const menu = await task("client", ["--port", port], "1\n2\nBTC\n0\n");
    assert.equal(menu.code, 0, menu.err);
    assert.match(menu.out, /Bitcoin/);
    assert.match(menu.out, /Ethereum/);
    assert.ok(menu.out.lastIndexOf("20,220") > menu.out.indexOf("Ethereum"), menu.out);
    assert.ok(!menu.out.includes("\x1b["), "no colour when piped");

    const price = await task("client", ["--port", port, "price", "eth"]);
    assert.equal(price.code, 0, price.err);
    assert.match(price.out, /1,355\.37/);

    const unknown = await task("client", ["--port", port, "price", "NOPE"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /NOPE/);
    assert.doesNotMatch(unknown.err, /\n\s+at /, "no stack trace");

    const json = await task("client", ["--port", port, "--json", "list"]);
    assert.equal(json.code, 0, json.err);
    assert.equal(JSON.parse(json.out).length, 10);
  } finally {
    server.child.kill("SIGINT");
  }
  const status = await server.child.status;
  const out = await server.rest();
  await server.stderr.cancel();
  assert.equal(status.code, 0);
  assert.match(out, /^stopped$/m);
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.remove(`${ROOT}${db}${suffix}`).catch(() => {});
  }
});

Deno.test("deno task client with no server says so in one line", async () => {
  const port = freePort();
  const result = await task("client", ["--port", String(port), "list"]);
  assert.equal(result.code, 1);
  assert.equal(result.err.trim(), `error: cannot connect to 127.0.0.1:${port}: connection refused`);
  assert.equal(result.out, "");
});

Deno.test("server --help lists every flag; bad usage is exit 2 with one line", async () => {
  const help = await task("server", ["--help"]);
  assert.equal(help.code, 0);
  const source = await Deno.readTextFile(`${ROOT}lib/server/config.ts`);
  const flags = [...source.matchAll(/name: "([a-z-]+)",\n\s+kind:/g)].map((m) => m[1]);
  assert.ok(flags.length >= 18, `found ${flags.length} flags`);
  for (const flag of flags) {
    assert.match(help.out, new RegExp(`--${flag}\\b`), `--help lacks --${flag}`);
    assert.match(help.out, new RegExp(`CRYPTO_${flag.toUpperCase().replaceAll("-", "_")}\\b`));
  }
  for (
    const [args, pattern] of [
      [["--port", "http"], /Invalid --port "http": expected a whole number, 0 to 65535/],
      [["--bogus"], /Unknown option '--bogus'/],
      [["--tls-cert", "data/cert.pem"], /TLS needs both --tls-cert and --tls-key/],
      [
        ["--api-url", "http://example.com/api/v3"],
        /Refusing plain http:\/\/ --api-url on example\.com/,
      ],
    ] as const
  ) {
    const result = await task("server", [...args]);
    assert.equal(result.code, 2, result.err);
    assert.match(result.err, pattern);
    assert.equal(result.err.trim().split("\n").length, 2, result.err);
  }
});

Deno.test("server on a port in use exits 1 with a clear line", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await task("server", [
    "--port",
    String(listener.addr.port),
    "--db",
    "./data/unused.sqlite",
  ]);
  assert.equal(result.code, 1);
  assert.equal(
    result.err.trim(),
    `error: cannot start the server: 127.0.0.1:${listener.addr.port} is already in use`,
  );
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.remove(`${ROOT}data/unused.sqlite${suffix}`).catch(() => {});
  }
});

Deno.test("deno task demo serves the recorded prices offline, converting them exactly", async () => {
  const db = `./data/test-demo-${crypto.randomUUID()}.sqlite`;
  const demo = new Deno.Command(Deno.execPath(), {
    // A long refresh, so the client sees the recording itself rather than a step of the walk.
    args: ["task", "-q", "demo", "--port", "0", "--http-port", "0", "--db", db, "--refresh", "600"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => demo.kill("SIGKILL"), 30_000);
  const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    while (!/^ingested 10 coins/m.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`demo exited early:\n${out}`);
      out += value;
    }
    assert.match(out, /recorded prices of 2022-10-04 20:16 UTC/);
    assert.match(
      out,
      /^crypto-server \d+\.\d+\.\d+, database .*test-demo-.*, providers coingecko, refresh every 600 s$/m,
    );
    const port = Number(/^listening on 127\.0\.0\.1:(\d+) \(tcp\)$/m.exec(out)![1]);
    assert.match(out, new RegExp(`try: deno task -q client --port ${port} list`));
    const client = (...args: string[]) => task("client", ["--port", String(port), ...args]);
    const price = await client("price", "BTC");
    assert.equal(price.code, 0, price.err);
    assert.match(price.out, /20,220\.00/);
    assert.match((await client("--currency", "BTC", "price", "BTC")).out, /Price +1\.00 BTC$/m);
    assert.match(
      (await client("--currency", "sats", "price", "BTC")).out,
      /Price +100,000,000\.00 sats$/m,
    );
    assert.match((await client("--currency", "ETH", "price", "ETH")).out, /Price +1\.00 ETH$/m);

    // A second demo on the same port says only why it cannot start.
    const second = await task("demo", ["--port", String(port), "--http-port", "0", "--db", db]);
    assert.equal(second.code, 1);
    assert.equal(second.out, "");
    assert.match(second.err, new RegExp(`^error: cannot start the demo: port ${port} is in use`));
  } finally {
    demo.kill("SIGINT");
  }
  assert.equal((await demo.status).code, 0);
  clearTimeout(killer);
  await reader.cancel();
  await demo.stderr.cancel();
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.remove(`${ROOT}${db}${suffix}`).catch(() => {});
  }
});

/** The first fenced block after `heading` in README.md, without its fences. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README.md has no "${heading}" section`);
  const block = readme.slice(at).match(/\n```[^\n]*\n([\s\S]*?)\n```\n/);
  assert.ok(block !== null, `README.md's "${heading}" section has no code block`);
  return block[1];
}

Deno.test("README's --help blocks are the real --help output of server and client", async () => {
  for (const [heading, name] of [["## Server", "server"], ["## Client", "client"]]) {
    const help = await task(name, ["--help"]);
    assert.equal(help.code, 0, help.err);
    assert.equal(
      await readmeBlock(heading),
      help.out.trimEnd(),
      `README.md's "${heading}" block differs from deno task ${name} --help`,
    );
  }
});
