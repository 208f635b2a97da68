/**
 * `deno task compile`, end to end: both binaries are built and a look-up goes through them.
 *
 * `deno compile` needs Deno's `denort` base binary, which it downloads unless `DENORT_BIN` names
 * one or a copy is cached under `$DENO_DIR/dl/`. Where neither is there (as on machines without
 * internet), this test is reported as ignored, with the reason in its name; it never passes
 * without compiling.
 */
import assert from "node:assert/strict";
import { startFakeUpstream } from "./fakes/fake_upstream.ts";
import { outputWithin } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function findDenort(): Promise<string | null> {
  const explicit = Deno.env.get("DENORT_BIN");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME") ?? "";
  const denoDir = Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`;
  const stack = [`${denoDir}/dl`];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    try {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) stack.push(path);
        else if (/^denort-.*\.zip$/.test(entry.name) && path.includes(Deno.version.deno)) {
          return path;
        }
      }
    } catch {
      // No cache directory: nothing cached.
    }
  }
  return null;
}

const denort = await findDenort();
const reason = "SKIPPED: no denort base binary (set DENORT_BIN or cache it under $DENO_DIR/dl/)";
if (denort === null) console.log(`compile_test: ${reason}`);

Deno.test({
  name: denort === null
    ? `deno task compile builds crypto-server and crypto-client [${reason}]`
    : `deno task compile builds crypto-server and crypto-client (denort: ${denort})`,
  ignore: denort === null,
  sanitizeResources: false,
  async fn() {
    const build = await outputWithin(
      Deno.execPath(),
      {
        args: ["task", "compile"],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      },
      "deno task compile",
      300_000,
    );
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));

    await using upstream = await startFakeUpstream();
    const dir = await Deno.makeTempDir({ prefix: "crypto-compile-" });
    const server = new Deno.Command(`${ROOT}dist/crypto-server`, {
      args: [
        ...["--port", "0", "--http-port", "0", "--db", `${dir}/db.sqlite`],
        ...["--api-url", upstream.baseUrl],
        ...["--providers", "coingecko"],
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      let port = 0;
      while (!/^ingested /m.test(seen)) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`crypto-server exited early:\n${seen}`);
        seen += value;
        port = Number(/listening on [^\s]+:(\d+) \(tcp\)/.exec(seen)?.[1] ?? port);
      }
      const client = await outputWithin(`${ROOT}dist/crypto-client`, {
        args: ["--port", String(port), "price", "BTC"],
        stdout: "piped",
        stderr: "piped",
      }, "crypto-client price BTC");
      assert.equal(client.code, 0, new TextDecoder().decode(client.stderr));
      assert.match(new TextDecoder().decode(client.stdout), /20,220/);
      // The web page is embedded in the binary (lib/web/_assets.ts), not read from disk.
      const httpPort = /listening on [^\s]+:(\d+) \(http\)/.exec(seen)?.[1];
      const page = await fetch(`http://127.0.0.1:${httpPort}/`, {
        headers: { accept: "text/html" },
      });
      assert.match(await page.text(), /<table id="coins">/);
      lines.releaseLock();
      server.kill("SIGTERM");
      assert.equal((await server.status).code, 0);
    } finally {
      try {
        server.kill("SIGTERM");
      } catch {
        // It exited already; the error above says why.
      }
      await server.status;
      await server.stdout.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
