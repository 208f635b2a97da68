/** `deno task cert` as a process: it writes a pair once and replaces it only with `--force`. */
import assert from "node:assert/strict";
import { outputWithin } from "../helpers.ts";

const CERT = new URL("../../lib/app/cert.ts", import.meta.url).pathname;

/** Runs the cert task's module in `dir` with the task's permissions, there. */
async function cert(dir: string, ...args: string[]) {
  const { code, stdout, stderr } = await outputWithin(
    Deno.execPath(),
    {
      args: ["run", "--allow-read=./data", "--allow-write=./data", CERT, ...args],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    },
    "deno task cert",
  );
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

Deno.test("deno task cert refuses to overwrite an existing pair without --force", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cert_task_" });
  try {
    const first = await cert(dir);
    assert.equal(first.code, 0, first.err);
    const written = await Deno.readTextFile(`${dir}/data/cert.pem`);
    const key = await Deno.readTextFile(`${dir}/data/key.pem`);

    const again = await cert(dir);
    assert.equal(again.code, 1);
    assert.equal(again.out, "");
    assert.match(again.err, /^error: \.\/data\/cert\.pem exists; refusing to overwrite it/);
    assert.match(again.err, /--force/);
    assert.equal(await Deno.readTextFile(`${dir}/data/cert.pem`), written);
    assert.equal(await Deno.readTextFile(`${dir}/data/key.pem`), key);

    // A key left alone is as much a pair as a certificate.
    await Deno.remove(`${dir}/data/cert.pem`);
    const keyOnly = await cert(dir);
    assert.equal(keyOnly.code, 1);
    assert.match(keyOnly.err, /\.\/data\/key\.pem exists/);

    const forced = await cert(dir, "--force");
    assert.equal(forced.code, 0, forced.err);
    assert.notEqual(await Deno.readTextFile(`${dir}/data/key.pem`), key);
    assert.equal((await Deno.stat(`${dir}/data/key.pem`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
