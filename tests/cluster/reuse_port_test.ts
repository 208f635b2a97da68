import assert from "node:assert/strict";
import { LineClient, tlsFiles } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { SERVER_TS, ServerProcess } from "../server_process.ts";

/**
 * Starts two server processes with `--reuse-port` on one port (TLS with `tls`) and connects until
 * both have answered: each reports its own database path, so both are known to be serving.
 */
async function twoOnOnePort(tls: boolean): Promise<void> {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "crypto-reuse-" });
  try {
    const files = tls ? await tlsFiles(dir) : undefined;
    const common = ["--api-url", upstream.baseUrl, "--reuse-port"];
    if (files) common.push("--tls-cert", files.cert, "--tls-key", files.key);
    await using first = new ServerProcess([...common, "--port", "0", "--db", `${dir}/a.sqlite`]);
    const port = await first.port();
    await using second = new ServerProcess([
      ...common,
      "--port",
      String(port),
      "--db",
      `${dir}/b.sqlite`,
    ]);
    assert.equal(await second.port(), port);
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      await using client = files
        ? new LineClient(
          await Deno.connectTls({ hostname: "localhost", port, caCerts: [files.certPem] }),
        )
        : await LineClient.connect(port);
      const info = await client.request({ data: "INFO", v: 2 });
      const data = info.data as { database: { path: string }; cluster: { role: string } };
      assert.equal(data.cluster.role, "single");
      seen.add(data.database.path);
    }
    assert.deepEqual([...seen].sort(), [`${dir}/a.sqlite`, `${dir}/b.sqlite`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--reuse-port: two server processes share one port and the kernel spreads connections", () =>
  twoOnOnePort(false));

Deno.test("--reuse-port with TLS: two server processes share one TLS port", () =>
  twoOnOnePort(true));

Deno.test("--reuse-port without Deno's --unstable-net: a one-line error and exit code 1, no crash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crypto-reuse-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        SERVER_TS,
        "--port",
        "0",
        "--reuse-port",
        "--db",
        `${dir}/a.sqlite`,
        "--api-url",
        "http://127.0.0.1:9/api/v3",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, stderr);
    assert.equal(
      stderr.trim(),
      "error: cannot start the server: --reuse-port needs Deno's --unstable-net flag " +
        "(deno task server has it)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
