import assert from "node:assert/strict";
import type { CoinView } from "../../lib/wire/coin_view.ts";
import { type CliIO, HELP, main } from "../../lib/client/cli.ts";
import { VERSION } from "../../lib/util/version.ts";
import { generateSelfSigned } from "../../lib/app/cert.ts";
import { readLines } from "../../lib/client/menu.ts";
import { coinView, startTestService, tlsFiles } from "../helpers.ts";

const NOW = new Date("2022-10-04T20:19:30Z");
const encoder = new TextEncoder();

function coin(symbol: string, name: string, price: number, rank: number): CoinView {
  return coinView(symbol, name, price, rank, { market_cap: 1000, change_24h: -2.5 });
}

const COINS = [coin("BTC", "Bitcoin", 20220, 1), coin("SHIB", "Shiba Inu", 0.00001149, 2)];

/** A protocol server on an ephemeral port that serves every connection until disposed. */
function startServer(listener: Deno.Listener = Deno.listen({ hostname: "127.0.0.1", port: 0 })) {
  const conns = new Set<Promise<void>>();
  const serveConn = async (conn: Deno.Conn) => {
    try {
      for await (const line of readLines(conn.readable)) {
        const what = String(JSON.parse(line).data).replace(/^MARKET\s+/, "").toUpperCase();
        const found = COINS.find((c) => c.symbol === what);
        const reply = what === "ALL"
          ? { status: "OK", data: COINS }
          : found
          ? { status: "OK", data: found }
          : { status: "ERROR", code: "UNKNOWN_COIN", data: `unknown coin ${what}` };
        await conn.write(encoder.encode(JSON.stringify(reply) + "\n"));
      }
    } catch {
      // A client that fails its TLS handshake ends up here.
    } finally {
      try {
        conn.close();
      } catch {
        // readable already closed it
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const p = serveConn(conn);
      conns.add(p);
      p.finally(() => conns.delete(p));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(conns);
    },
  };
}

async function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (s) => stdout += s,
    stderr: (s) => stderr += s,
    stdin: ReadableStream.from([encoder.encode(options.stdin ?? "")]),
    stdinIsTerminal: false,
    env: (name) => options.env?.[name],
    color: false,
    readTextFile: Deno.readTextFile,
    now: () => NOW,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

Deno.test("--help documents every flag, command, variable and exit code", async () => {
  const { code, stdout, stderr } = await cli(["--help"]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  assert.equal(stdout, HELP);
  for (
    const word of [
      "--host",
      "--port",
      "--tls",
      "--ca FILE",
      "--json",
      "-h, --help",
      "--version",
      "list",
      "price SYMBOL",
      "history SYMBOL [RANGE]",
      "1h, 24h, 7d or 30d",
      "currencies",
      "info",
      "watch SYMBOL...",
      "Ctrl-C",
      "--currency CODE",
      "CRYPTO_HOST",
      "COLUMNS",
      "CRYPTO_PORT",
      "NO_COLOR",
      "0  success",
      "1  server error",
      "2  bad usage",
    ]
  ) assert.ok(HELP.includes(word), word);
  assert.equal((await cli(["-h", "list"])).stdout, HELP);
  assert.deepEqual(await cli(["--version"]), {
    code: 0,
    stdout: `crypto-client ${VERSION}\n`,
    stderr: "",
  });
});

Deno.test("--help fits 80 columns", () => {
  for (const line of HELP.split("\n")) assert.ok(line.length <= 80, `${line.length}: ${line}`);
});

Deno.test("bad usage exits 2 with one error line and a hint", async (t) => {
  const cases: [string[], string, Record<string, string>?][] = [
    [["--bogus"], "Unknown option '--bogus'"],
    [["--port"], "Option '--port <value>' argument missing"],
    [["--port", "0", "list"], 'Invalid --port "0": expected a whole number, 1 to 65535'],
    [["--port", "80x", "list"], 'Invalid --port "80x": expected a whole number, 1 to 65535'],
    [["list"], 'Invalid --port "abc": expected a whole number, 1 to 65535', {
      CRYPTO_PORT: "abc",
    }],
    [["price"], "price needs a coin symbol, e.g. price BTC"],
    [["price", "all"], '"all" is not a coin symbol; use list to see all coins'],
    // The protocol's longest symbol is 32 characters; the client refuses longer ones itself.
    [
      ["price", "X".repeat(33)],
      `"${"X".repeat(33)}" is not a coin symbol; use list to see all coins`,
    ],
    [["list", "x"], 'list takes no arguments, got "x"'],
    [
      ["frob"],
      'Unknown command "frob"; commands are list, price, history, search, currencies, info and watch',
    ],
    [["--csv"], "--csv needs a command: list, price or history"],
    [["--csv", "info"], "--csv works with list, price and history, not info"],
    [["--csv", "list", "--tls=no"], "Option '--tls' does not take an argument"],
    [["price", "a\u202eb c"], '"a\\u202eb c" is not a coin symbol; use list to see all coins'],
    [["history"], "history needs a coin symbol and optionally a range, e.g. history BTC 7d"],
    [["history", "BTC", "2y"], '"2y" is not a history range; use 1h, 24h, 7d, 30d'],
    [
      ["history", "BTC", "24h", "x"],
      "history needs a coin symbol and optionally a range, e.g. history BTC 7d",
    ],
    [["watch"], "watch needs coin symbols, e.g. watch BTC ETH"],
    [["watch", "BTC", "all"], '"all" is not a coin symbol; use list to see all coins'],
    [
      ["watch", ...Array.from({ length: 51 }, (_, i) => `C${i}`)],
      "watch takes at most 50 coin symbols, got 51",
    ],
    [["info", "now"], 'info takes no arguments, got "now"'],
    [["--currency", "€", "list"], '--currency needs a currency code such as EUR or VND, got "€"'],
    [
      ["--currency", "list", "BTC"],
      'Unknown command "BTC"; commands are list, price, history, search, currencies, info and watch',
    ],
    [["--tls=yes", "list"], "Option '--tls' does not take an argument"],
  ];
  for (const [args, message, env] of cases) {
    await t.step(args.join(" "), async () => {
      assert.deepEqual(await cli(args, { env }), {
        code: 2,
        stdout: "",
        stderr: `error: ${message}\nTry --help for usage.\n`,
      });
    });
  }
});

Deno.test("list and price print tables, coins and JSON from the server", async () => {
  await using server = startServer();
  const port = String(server.port);

  const list = await cli(["--port", port, "list"]);
  assert.equal(list.code, 0, list.stderr);
  // At 80 columns there is room for the market cap and the source too.
  assert.match(
    list.stdout,
    /^# {2}Symbol {2}Name +Price \(USD\) +24h +Market cap +Updated +Source +\n/,
  );
  assert.match(list.stdout, /Bitcoin +\$20,220\.00 +-2\.50% +\$1,000 +3m ago {2}coingecko\n/);
  assert.match(list.stdout, /Shiba Inu +\$0\.00001149/);

  const price = await cli(["price", "btc"], { env: { CRYPTO_PORT: port } });
  assert.equal(price.code, 0, price.stderr);
  assert.match(price.stdout, /^Bitcoin \(BTC\)\n {2}Price {7}\$20,220\.00\n/);

  const json = await cli(["--json", "--host", "127.0.0.1", "--port", port, "list"]);
  assert.equal(json.code, 0);
  assert.equal(json.stdout.split("\n").length, 2, "one line");
  assert.deepEqual(JSON.parse(json.stdout), COINS);

  const one = await cli(["--json", "price", "SHIB"], {
    env: { CRYPTO_HOST: "127.0.0.1", CRYPTO_PORT: port },
  });
  assert.deepEqual(JSON.parse(one.stdout), COINS[1]);
});

Deno.test("server and connection errors exit 1 with one line on stderr", async () => {
  {
    await using server = startServer();
    assert.deepEqual(await cli(["--port", String(server.port), "price", "XYZ"]), {
      code: 1,
      stdout: "",
      stderr: "error: unknown coin XYZ\n",
    });
  }
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  for (const args of [["list"], []]) {
    assert.deepEqual(await cli(["--port", String(port), ...args]), {
      code: 1,
      stdout: "",
      stderr: `error: Cannot connect to 127.0.0.1:${port}: connection refused\n`,
    });
  }
});

Deno.test("--json errors are one JSON object on stderr, with the same exit codes", async () => {
  await using server = startServer();
  const port = String(server.port);
  const unknown = await cli(["--json", "--port", port, "price", "XYZ"]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stdout, "");
  assert.deepEqual(JSON.parse(unknown.stderr), {
    error: { code: "UNKNOWN_COIN", message: "unknown coin XYZ" },
  });
  const usage = await cli(["--json", "--csv", "list"]);
  assert.equal(usage.code, 2);
  assert.deepEqual(JSON.parse(usage.stderr), {
    error: { code: "USAGE", message: "--json and --csv cannot be combined" },
  });
  const bad = await cli(["--json", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(JSON.parse(bad.stderr).error.code, "USAGE");
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  closed.close();
  const refused = await cli(["--json", "--port", String(closed.addr.port), "list"]);
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stderr).error.code, "CONNECTION");
  assert.equal(refused.stderr.split("\n").length, 2, "one line");
});

Deno.test("price takes several symbols, prints the known ones and reports the others", async () => {
  await using server = startServer();
  const port = String(server.port);
  const both = await cli(["--port", port, "price", "BTC", "shib"]);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, /^Bitcoin \(BTC\)\n[^]*\n\nShiba Inu \(SHIB\)\n/);
  const some = await cli(["--port", port, "price", "BTC", "NOPE"]);
  assert.equal(some.code, 1);
  assert.match(some.stdout, /^Bitcoin \(BTC\)\n/);
  assert.equal(some.stderr, "error: unknown coin NOPE\n");
  const json = await cli(["--json", "--port", port, "price", "BTC", "SHIB"]);
  assert.deepEqual(JSON.parse(json.stdout), COINS);
});

Deno.test("--csv writes list and price as CSV with a header row, one row per coin", async () => {
  await using server = startServer();
  for (const command of [["list"], ["price", "btc", "shib"]]) {
    const csv = await cli(["--csv", "--port", String(server.port), ...command]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(csv.stdout.split("\n"), [
      "rank,symbol,name,price,currency,change_24h,market_cap,updated_at,stale",
      "1,BTC,Bitcoin,20220,USD,-2.5,1000,2022-10-04T20:16:27.116Z,false",
      "2,SHIB,Shiba Inu,0.00001149,USD,-2.5,1000,2022-10-04T20:16:27.116Z,false",
      "",
    ]);
  }
});

Deno.test("help and version work as commands, as at the prompt", async () => {
  assert.deepEqual(await cli(["help"]), { code: 0, stdout: HELP, stderr: "" });
  assert.deepEqual(await cli(["version"]), {
    code: 0,
    stdout: `crypto-client ${VERSION}\n`,
    stderr: "",
  });
});

/** A server that answers every request with hostile text: escapes, C1 and bidi controls. */
function startHostileServer() {
  const hostile = "\x1b[31mRED\x1b]0;pwned\x07\x9b2J\u202eevil\r\nnext";
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        for await (const line of readLines(conn.readable)) {
          const what = String(JSON.parse(line).data);
          const reply = what.startsWith("MARKET ALL")
            ? { status: "OK", data: [coinView("X", hostile, 1, 1)] }
            : { status: "ERROR", code: "UNKNOWN_COIN", data: `No coin ${hostile}` };
          await conn.write(encoder.encode(JSON.stringify(reply) + "\n"));
        }
      })().catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch {
          // closed by its reader
        }
      });
    }
  })();
  return {
    port: String(listener.addr.port),
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

/** Whether `text` holds a character a terminal would act on. */
function hasControls(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(text);
}

Deno.test("text from a hostile server is shown escaped, never obeyed", async () => {
  await using server = startHostileServer();
  const error = await cli(["--port", server.port, "price", "BTC"]);
  assert.equal(error.code, 1);
  assert.equal(
    error.stderr,
    "error: No coin \\x1b[31mRED\\x1b]0;pwned\\x07\\x9b2J\\u202eevil\\r\\nnext\n",
  );
  const list = await cli(["--port", server.port, "list"]);
  assert.equal(list.code, 0);
  assert.ok(!hasControls(list.stdout), list.stdout);
  assert.match(list.stdout, /\\x1b\[31mRED/);
  for (const args of [["--json", "list"], ["--json", "price", "X"], ["--csv", "list"]]) {
    const out = await cli(["--port", server.port, ...args]);
    assert.ok(
      !hasControls(out.stdout + out.stderr),
      `${args.join(" ")}: ${out.stdout}${out.stderr}`,
    );
  }
  const json = await cli(["--port", server.port, "--json", "price", "X"]);
  assert.match(json.stderr, /\\u001b\[31mRED.*\\u009b2J\\u202eevil/);
  assert.equal(
    JSON.parse(json.stderr).error.message,
    "No coin \x1b[31mRED\x1b]0;pwned\x07\x9b2J\u202eevil\r\nnext",
  );
});

Deno.test("the menu reads piped stdin", async () => {
  await using server = startServer();
  const { code, stdout, stderr } = await cli(["--port", String(server.port)], {
    stdin: "1\n2\nBTC\n2\nnope\n0\n",
  });
  assert.equal(code, 0);
  assert.equal(stderr, "error: unknown coin NOPE\n");
  const table = stdout.indexOf("Shiba Inu");
  const btc = stdout.indexOf("Symbol (e.g. BTC): BTC\nBitcoin (BTC)\n");
  assert.ok(table > 0 && btc > table, stdout);
});

Deno.test("TLS with --ca verifies the server; without it the error says what to do", async () => {
  const { cert, key } = await generateSelfSigned({ hosts: ["localhost", "127.0.0.1"], days: 1 });
  const dir = await Deno.makeTempDir();
  try {
    const caFile = `${dir}/cert.pem`;
    await Deno.writeTextFile(caFile, cert);
    await Deno.writeTextFile(`${dir}/not.pem`, "hello");
    await using server = startServer(
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }),
    );
    const port = String(server.port);

    const ok = await cli(["--host", "localhost", "--port", port, "--ca", caFile, "price", "BTC"]);
    assert.equal(ok.stderr, "");
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /Bitcoin/);

    assert.deepEqual(await cli(["--host", "localhost", "--port", port, "--tls", "list"]), {
      code: 1,
      stdout: "",
      stderr: `error: TLS handshake with localhost:${port} failed: certificate is not trusted ` +
        "(unknown issuer); pass the server's certificate with --ca FILE\n",
    });
    assert.deepEqual(await cli(["--port", port, "list"]), {
      code: 1,
      stdout: "",
      stderr: `error: Connection to 127.0.0.1:${port} closed by the server (it expects TLS); ` +
        "try --tls\n",
    });
    assert.deepEqual(await cli(["--port", port, "--ca", `${dir}/missing.pem`, "list"]), {
      code: 1,
      stdout: "",
      stderr: `error: Cannot read CA file ${dir}/missing.pem: no such file\n`,
    });
    assert.deepEqual(await cli(["--port", port, "--ca", `${dir}/not.pem`, "list"]), {
      code: 1,
      stdout: "",
      stderr: `error: CA file ${dir}/not.pem contains no PEM certificate\n`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plain client on the real server's TLS port is told to try --tls", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { cert, key } = await tlsFiles(dir);
    await using svc = await startTestService(["--tls-cert", cert, "--tls-key", key]);
    const port = String(svc.port);
    assert.deepEqual(await cli(["--port", port, "list"]), {
      code: 1,
      stdout: "",
      stderr: `error: Connection to 127.0.0.1:${port} closed by the server before it answered; ` +
        "if the server speaks TLS, try --tls\n",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a config file sets defaults; the environment and flags win over it", async (t) => {
  await using server = startServer();
  const port = String(server.port);
  const dir = await Deno.makeTempDir();
  const write = async (base: string, text: string) => {
    await Deno.mkdir(`${base}/crypto-client`, { recursive: true });
    await Deno.writeTextFile(`${base}/crypto-client/config.toml`, text);
  };
  try {
    await t.step("$XDG_CONFIG_HOME/crypto-client/config.toml", async () => {
      await write(dir, `host = "127.0.0.1"\nport = ${port}\ntls = false\n`);
      const list = await cli(["list"], { env: { XDG_CONFIG_HOME: dir } });
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /Bitcoin/);
    });
    await t.step("~/.config/crypto-client/config.toml without XDG_CONFIG_HOME", async () => {
      await write(`${dir}/home/.config`, `port = ${port}\n`);
      const list = await cli(["list"], { env: { HOME: `${dir}/home` } });
      assert.equal(list.code, 0, list.stderr);
    });
    await t.step("CRYPTO_PORT and --port win over the file", async () => {
      await write(dir, "port = 1\n");
      const env = { XDG_CONFIG_HOME: dir };
      assert.equal((await cli(["--port", port, "list"], { env })).code, 0);
      assert.equal((await cli(["list"], { env: { ...env, CRYPTO_PORT: port } })).code, 0);
      const fromFile = await cli(["list"], { env });
      assert.equal(fromFile.code, 1);
      assert.match(fromFile.stderr, /^error: Cannot connect to 127\.0\.0\.1:1: /);
    });
    await t.step("a bad file is bad usage, named with its path", async () => {
      const path = `${dir}/crypto-client/config.toml`;
      for (
        const [text, message] of [
          ['port = "x"\n', `Cannot use ${path}: port must be a port number from 1 to 65535`],
          [
            "colour = true\n",
            `Cannot use ${path}: unknown key colour; expected host, port, tls, ca, currency`,
          ],
          ["port = \n", `Cannot parse ${path}: expected TOML`],
        ]
      ) {
        await write(dir, text);
        const bad = await cli(["list"], { env: { XDG_CONFIG_HOME: dir } });
        assert.equal(bad.code, 2);
        assert.ok(bad.stderr.startsWith(`error: ${message}`), bad.stderr);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.match(HELP, /crypto-client\/config\.toml/);
});
