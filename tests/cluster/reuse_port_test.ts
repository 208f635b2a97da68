import assert from "node:assert/strict";
import { LineClient, tlsFiles } from "../helpers.ts";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { SERVER_TS, ServerProcess } from "../server_process.ts";

Deno.test("--reuse-port: two server processes share one port and the kernel spreads connections", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "crypto-reuse-" });
  const common = ["--api-url", upstream.baseUrl, "--reuse-port"];
  try {
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
    // Each process reports its own database path: connect until both have answered.
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      await using client = await LineClient.connect(port);
      const info = await client.request({ data: "INFO", v: 2 });
      const data = info.data as { database: { path: string }; cluster: { role: string } };
      assert.equal(data.cluster.role, "single");
      seen.add(data.database.path);
    }
    assert.deepEqual([...seen].sort(), [`${dir}/a.sqlite`, `${dir}/b.sqlite`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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

Deno.test("--reuse-port with TLS: two server processes share one TLS port", async () => {
  await using upstream = await startFakeUpstream();
  const dir = await Deno.makeTempDir({ prefix: "crypto-reuse-tls-" });
  const { cert, key, certPem } = await tlsFiles(dir);
  const common = [
    "--api-url",
    upstream.baseUrl,
    "--reuse-port",
    "--tls-cert",
    cert,
    "--tls-key",
    key,
  ];
  try {
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
      const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [certPem] });
      await using client = new LineClient(conn);
      const info = await client.request({ data: "INFO", v: 2 });
      seen.add((info.data as { database: { path: string } }).database.path);
    }
    assert.deepEqual([...seen].sort(), [`${dir}/a.sqlite`, `${dir}/b.sqlite`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
