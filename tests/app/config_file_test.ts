/** `--config FILE`: TOML keyed by flag names; flags and environment win; typos are errors. */
import assert from "node:assert/strict";
import { parseServerArgs } from "../../lib/app/config.ts";
import { UsageError } from "../../lib/util/usage_error.ts";

/** Parses `args` with a config file holding `toml`, and `env`. */
async function withFile(toml: string, args: string[] = [], env: Record<string, string> = {}) {
  const path = await Deno.makeTempFile({ prefix: "crypto_config_", suffix: ".toml" });
  try {
    await Deno.writeTextFile(path, toml);
    return parseServerArgs(["--config", path, ...args], (name) => env[name]);
  } finally {
    await Deno.remove(path);
  }
}

const FILE = [
  "# a comment",
  "port = 8443",
  'host = "0.0.0.0"',
  "refresh = 0.5",
  "reuse-port = true",
  'providers = ["coinpaprika", "coingecko"]',
  '"max-connections" = 50',
].join("\n");

Deno.test("a config file sets flags by their names", async () => {
  const command = await withFile(FILE);
  assert.ok(command.action === "serve");
  const { config } = command;
  assert.equal(config.port, 8443);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.refreshSeconds, 0.5);
  assert.equal(config.reusePort, true);
  assert.deepEqual(config.providers, ["coinpaprika", "coingecko"]);
  assert.equal(config.limits.maxConnections, 50);
  assert.equal(config.top, 10, "what the file does not set keeps its default");
});

Deno.test("flags and environment variables win over the config file", async () => {
  const command = await withFile(FILE, ["--port", "9000"], { CRYPTO_HOST: "127.0.0.2" });
  assert.ok(command.action === "serve");
  assert.equal(command.config.port, 9000);
  assert.equal(command.config.host, "127.0.0.2");
  assert.equal(command.config.refreshSeconds, 0.5);
});

Deno.test("an unknown key is an error naming the key and its line", async () => {
  await assert.rejects(
    withFile("port = 8443\n\nprot = 8000\n"),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /^Unknown key "prot" in --config .*\.toml line 3: /);
      return true;
    },
  );
  await assert.rejects(withFile('config = "other.toml"\n'), /Unknown key "config"/);
});

Deno.test("a file that is no TOML, a bad value and a missing file are usage errors", async () => {
  await assert.rejects(
    withFile("port = 1\nhost = [\n"),
    /^UsageError: Cannot parse --config .* line 3/,
  );
  await assert.rejects(withFile('port = "http"\n'), /Invalid --port "http"/);
  await assert.rejects(withFile("port = { a = 1 }\n"), /Cannot use port in --config .* line 1/);
  assert.throws(
    () => parseServerArgs(["--config", "/nonexistent/crypto.toml"], () => undefined),
    /^UsageError: Cannot read --config \/nonexistent\/crypto\.toml: /,
  );
});
