/**
 * End-to-end tests of the client's newer commands: the real `client.ts` as a subprocess against
 * the real service (fake upstream serving the recorded data, temporary database).
 *
 * @module
 */

import assert from "node:assert/strict";
import { startTestService, type TestService } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url);
const FIXTURE = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The client as a process, with piped stdio and output collected as it comes. */
function spawnClient(port: number, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "client.ts", "--port", String(port), ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let out = "";
  let err = "";
  let changed = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>, into: (s: string) => void) => {
    for await (const chunk of stream) {
      into(decoder.decode(chunk, { stream: true }));
      changed.resolve();
      changed = Promise.withResolvers<void>();
    }
  };
  const reading = Promise.all([
    collect(child.stdout, (s) => out += s),
    collect(child.stderr, (s) => err += s),
  ]);
  const stdin = child.stdin.getWriter();
  const waitUntil = async (text: () => string, pattern: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(text())) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Client output never matched ${pattern}:\n${out}\n${err}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        changed.promise,
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
      clearTimeout(timer);
    }
  };
  return {
    child,
    get out() {
      return out;
    },
    /** Writes to the client's stdin. */
    send: (text: string) => stdin.write(encoder.encode(text)),
    closeStdin: () => stdin.close(),
    /** Waits for stdout to match `pattern`; a deadline only guards against a hang. */
    waitFor: (pattern: RegExp, timeoutMs = 20_000) => waitUntil(() => out, pattern, timeoutMs),
    /** Waits for stderr to match `pattern`, the same way. */
    waitForErr: (pattern: RegExp, timeoutMs = 20_000) => waitUntil(() => err, pattern, timeoutMs),
    /** Waits for the exit; returns the code and all output. */
    async done(): Promise<{ code: number; out: string; err: string }> {
      await stdin.close().catch(() => {});
      const { code } = await child.status;
      await reading;
      return { code, out, err };
    },
  };
}

/**
 * A TCP proxy to 127.0.0.1:`target` whose open connections the test can cut, as a server that
 * restarts would; new connections go through again.
 */
function startCuttableProxy(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipes: Promise<unknown>[] = [];
  const accepting = (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connect({ hostname: "127.0.0.1", port: target });
      open.add(inbound);
      open.add(outbound);
      const close = () => {
        for (const c of [inbound, outbound]) {
          open.delete(c);
          try {
            c.close();
          } catch {
            // already closed
          }
        }
      };
      pipes.push(
        Promise.allSettled([
          inbound.readable.pipeTo(outbound.writable, { preventClose: true }),
          outbound.readable.pipeTo(inbound.writable, { preventClose: true }),
        ]).finally(close),
      );
    }
  })();
  return {
    port: listener.addr.port,
    cutAll() {
      for (const c of [...open]) {
        try {
          c.close();
        } catch {
          // already closed
        }
        open.delete(c);
      }
    },
    async close() {
      listener.close();
      this.cutAll();
      await accepting.catch(() => {});
      await Promise.allSettled(pipes);
    },
  };
}

/** Runs the client once with `stdin`, returning its exit code and output. */
function runClient(port: number, args: string[], env: Record<string, string> = {}, stdin = "") {
  const client = spawnClient(port, args, env);
  if (stdin !== "") client.send(stdin);
  return client.done();
}

/** Serves BTC at `price` from the next ingestion on, and runs one. */
async function ingestBtc(env: TestService, price: number): Promise<void> {
  const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));
  recorded[0].current_price = price;
  env.upstream.setCoins(recorded);
  await env.service.ingestor.runOnce();
}

Deno.test("client end to end against the real server", async (t) => {
  await using env = await startTestService();
  const port = env.port;

  await t.step(
    "--currency VND and EUR format amounts as those currencies are written",
    async () => {
      const vnd = await runClient(port, ["--currency", "vnd", "price", "BTC"]);
      assert.equal(vnd.code, 0, vnd.err);
      // 20,220 USD at the recorded rates: 20220 × 1398224681.932 / 61388.956 ₫.
      const expected = Math.round((20220 * 1398224681.932) / 61388.956);
      const grouped = expected.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ".");
      assert.match(vnd.out, new RegExp(`Price {7}${grouped.replaceAll(".", "\\.")}\u00a0₫\n`));
      assert.match(vnd.out, /Market cap {2}[\d.]+\u00a0₫\n/);

      const eur = await runClient(port, ["--currency", "EUR", "list"]);
      assert.equal(eur.code, 0, eur.err);
      assert.match(eur.out, /Price \(EUR\)/);
      const euros = ((20220 * 52922.867) / 61388.956).toLocaleString("en-US", {
        minimumFractionDigits: 2,
        maximumFractionDigits: 2,
      });
      assert.match(eur.out, new RegExp(`Bitcoin +€${euros.replace(".", "\\.")}  `));

      const json = await runClient(port, ["--json", "--currency", "VND", "price", "eth"]);
      assert.equal(json.code, 0, json.err);
      assert.equal(JSON.parse(json.out).currency, "VND");

      const sats = await runClient(port, ["--currency", "sats", "price", "ETH"]);
      assert.equal(sats.code, 0, sats.err);
      assert.match(sats.out, /Price {7}[\d,]+\.\d\d sats\n/);

      // An unknown currency is bad usage, like a code that is no code (exit 2).
      assert.deepEqual(await runClient(port, ["--currency", "XYZ", "list"]), {
        code: 2,
        out: "",
        err: "error: Unknown currency XYZ: currencies lists them\n",
      });
      // --currency checks the code the same way with --json, also for history.
      for (const args of [["--json", "history", "BTC"], ["history", "BTC"]]) {
        const xyz = await runClient(port, ["--currency", "XYZ", ...args]);
        assert.equal(xyz.code, 2, args.join(" "));
        assert.equal(xyz.out, "");
      }
      const price = await runClient(port, ["--currency", "XYZ", "price", "BTC", "ETH"]);
      assert.deepEqual(price, {
        code: 2,
        out: "",
        err: "error: Unknown currency XYZ: currencies lists them\n",
      });
      const history = await runClient(port, ["--json", "--currency", "EUR", "history", "BTC"]);
      assert.equal(history.code, 0, history.err);
      assert.equal(JSON.parse(history.out).currency, "EUR");
      assert.equal(JSON.parse(history.out).converted_from, "USD");
    },
  );

  // The server cleans names at ingestion (controls and bidi characters removed); the client's own
  // escaping is tested against a hostile server in safe_text and cli tests. End to end, no control
  // byte of a hostile upstream's name reaches the terminal, in any output format.
  await t.step("coin names from a hostile upstream reach the terminal cleaned", async () => {
    const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));
    recorded[1].name = "Ether\x1b[2J\x1b]0;pwned\x07\u202eevil\x9b31m";
    env.upstream.setCoins(recorded);
    await env.service.ingestor.runOnce();
    for (const args of [["list"], ["price", "ETH"], ["--json", "list"], ["--csv", "list"]]) {
      const out = await runClient(port, args);
      assert.equal(out.code, 0, out.err);
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(out.out, /[\x1b\x07\x9b\u202e]/, args.join(" "));
      assert.match(out.out, /Ether\[2J\]0;pwnedevil31m/, args.join(" "));
    }
    await ingestBtc(env, 20220);
  });

  await t.step("currencies and info", async () => {
    const list = await runClient(port, ["currencies"]);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^Code +Unit +Name +Type\nUSD +\$ +US Dollar +fiat\n/);
    assert.match(list.out, /\nVND +₫ +Vietnamese đồng +fiat\n/);
    assert.match(list.out, /\nSATS +sats +Satoshi +crypto\n/);
    const json = await runClient(port, ["--json", "currencies"]);
    assert.ok(JSON.parse(json.out).some((c: { code: string }) => c.code === "EUR"));

    const info = await runClient(port, ["info"]);
    assert.equal(info.code, 0, info.err);
    assert.match(info.out, /^ {2}Server +version \d+\.\d+\.\d+, up \d+s\n/);
    assert.match(info.out, /\n {2}Requests +.*MARKET \d+/);
    assert.match(info.out, /\n {2}Ingestion +ok /);
    assert.match(info.out, /\n {2}Providers +coingecko ok\n/);
    // With the menu's 8 lines under it, it fits a 30-row terminal.
    assert.ok(info.out.split("\n").length <= 20, info.out);
    const infoJson = await runClient(port, ["--json", "info"]);
    assert.equal(typeof JSON.parse(infoJson.out).uptime_seconds, "number");
  });

  await t.step("history prints the summary and a sparkline sized by COLUMNS", async () => {
    await ingestBtc(env, 20500);
    await ingestBtc(env, 21000);
    const history = await runClient(port, ["history", "btc"], { COLUMNS: "50" });
    assert.equal(history.code, 0, history.err);
    const lines = history.out.split("\n");
    assert.equal(lines[0], "BTC over the last 24h (USD)");
    assert.match(history.out, /\n {2}Last {4}\$21,000\.00\n {2}Change {2}\+3\.86%\n/);
    assert.match(history.out, /\n {2}Low {5}\$20,220\.00\n {2}High {4}\$21,000\.00\n/);
    const spark = lines.find((l) => /^ {2}[▁-█]+$/.test(l));
    assert.ok(spark, history.out);
    assert.ok([...spark.trim()].length <= 48);
    assert.match(spark, /▁.*█$/);

    const vnd = await runClient(port, ["--currency", "VND", "history", "BTC", "1h"]);
    assert.equal(vnd.code, 0, vnd.err);
    assert.match(vnd.out, /^BTC over the last 1h \(VND\)\n {2}Last {4}[\d.]+\u00a0₫\n/);
    assert.match(vnd.out, /Converted from USD at the current rate/);

    const json = await runClient(port, ["--json", "history", "BTC", "7D"]);
    assert.equal(json.code, 0, json.err);
    const data = JSON.parse(json.out);
    assert.equal(data.range, "7d");
    assert.equal(data.last, 21000);

    assert.deepEqual(await runClient(port, ["history", "NOPE"]), {
      code: 1,
      out: "",
      err: "error: No coin with symbol NOPE: list shows the 10 coins served\n",
    });
  });

  await t.step("watch prints one line per update when piped; Ctrl-C exits 0", async () => {
    const watch = spawnClient(port, ["watch", "btc", "ETH"]);
    await watch.waitFor(/ETH \$1,355\.37 [+-][\d.]+%\n/);
    assert.match(watch.out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ BTC \$21,000\.00 [+-][\d.]+%\n/);
    await ingestBtc(env, 21500.25);
    await watch.waitFor(/BTC \$21,500\.25 [+-][\d.]+%\n$/);
    watch.child.kill("SIGINT");
    const { code, out, err } = await watch.done();
    assert.equal(err, "");
    assert.equal(code, 0);
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.length, 3, out);
    assert.ok(!out.includes("\x1b"), "no escape codes when piped");
  });

  await t.step("watch --json --currency EUR prints each coin as a JSON line", async () => {
    const watch = spawnClient(port, ["--json", "--currency", "EUR", "watch", "BTC"]);
    await watch.waitFor(/\}\n/);
    await ingestBtc(env, 22000);
    await watch.waitFor(/\}\n.*\}\n/);
    watch.child.kill("SIGINT");
    const { code, out } = await watch.done();
    assert.equal(code, 0);
    const coins = out.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(coins.map((c) => c.currency), ["EUR", "EUR"]);
    assert.ok(coins[1].price > coins[0].price);
  });

  await t.step("the menu's watch entry runs until the end of input", async () => {
    const menu = spawnClient(port, []);
    await menu.send("4\nBTC\n");
    await menu.waitFor(/BTC \$22,000\.00 [+-][\d.]+%\n$/);
    await ingestBtc(env, 22100);
    await menu.waitFor(/BTC \$22,100\.00 [+-][\d.]+%\n$/);
    const { code, out, err } = await menu.done();
    assert.equal(err, "");
    assert.equal(code, 0);
    assert.match(out, /Watching: press Enter or Ctrl-C to go back to the menu\n/);

    // Input that ends right after the symbols still shows the coins, then exits 0.
    const piped = await runClient(port, [], {}, "4\nBTC\n");
    assert.equal(piped.code, 0, piped.err);
    assert.match(piped.out, /Watching: [^\n]*\n\d{4}-[^\n]* BTC \$22,100\.00 [+-][\d.]+%\n/);
  });

  await t.step("watch says which coins are unknown and watches the rest", async () => {
    assert.deepEqual(await runClient(port, ["watch", "NOPE"]), {
      code: 1,
      out: "",
      err: "error: No coin with symbol NOPE: list shows the 10 coins served\n",
    });
    const watch = spawnClient(port, ["watch", "BTC", "NOPE"]);
    await watch.waitFor(/BTC \$[\d,.]+ [+-][\d.]+%\n/);
    watch.child.kill("SIGINT");
    const { code, err } = await watch.done();
    assert.equal(code, 0);
    assert.equal(err, "error: No coin with symbol NOPE: watching BTC\n");
  });

  await t.step("watch reconnects when the server goes away and comes back", async () => {
    // A proxy the test can cut: the server stays, the connection drops.
    const proxy = await startCuttableProxy(port);
    const watch = spawnClient(proxy.port, ["watch", "BTC"]);
    await watch.waitFor(/BTC \$[\d,.]+ [+-][\d.]+%\n/);
    proxy.cutAll();
    await watch.waitForErr(/reconnecting\.\.\./);
    await watch.waitFor(/BTC \$[\d,.]+ [+-][\d.]+%\n[^]*BTC \$[\d,.]+ [+-][\d.]+%\n/);
    await ingestBtc(env, 21_777);
    await watch.waitFor(/BTC \$21,777\.00 [+-][\d.]+%\n$/);
    watch.child.kill("SIGINT");
    const { code } = await watch.done();
    assert.equal(code, 0);
    await proxy.close();
  });
});
