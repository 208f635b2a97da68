import assert from "node:assert/strict";
import { join } from "node:path";
import { outputWithin } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The flag table is typed: a read of a flag it does not have is a compile error. Proved on a copy
 * of `lib/` in which one read is misspelled, so the check itself is known to be able to fail.
 */
Deno.test("reading a misspelled flag name fails to compile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "config_typo_" });
  try {
    await Deno.copyFile(join(ROOT, "deno.json"), join(dir, "deno.json"));
    await outputWithin("cp", { args: ["-r", join(ROOT, "lib"), dir] }, "copying lib/");
    const config = join(dir, "lib/app/config.ts");
    const source = await Deno.readTextFile(config);
    const read = 'values["tls-key"]';
    assert.ok(source.includes(read), `config.ts no longer reads ${read}`);
    const check = (text: string) =>
      Deno.writeTextFile(config, text).then(() =>
        outputWithin(
          Deno.execPath(),
          {
            args: ["check", "--quiet", config],
            cwd: dir,
            stdout: "piped",
            stderr: "piped",
          },
          "deno check",
          120_000,
        )
      );
    const original = await check(source);
    assert.equal(original.code, 0, new TextDecoder().decode(original.stderr));
    const typo = await check(source.replace(read, 'values["tls-kee"]'));
    assert.notEqual(typo.code, 0);
    assert.match(new TextDecoder().decode(typo.stderr), /Property 'tls-kee' does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unparsable postgres:// --db is a usage error that does not quote the password", async () => {
  const { parseServerArgs } = await import("../../lib/app/config.ts");
  const { UsageError } = await import("../../lib/util/usage_error.ts");
  assert.throws(
    () => parseServerArgs(["--db", "postgres://crypto:s3cret@host:99999/db"], () => undefined),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.doesNotMatch(error.message, /s3cret/);
      assert.match(
        error.message,
        /Invalid --db postgres:\/\/.*expected postgres:\/\/user:password/,
      );
      return true;
    },
  );
});
