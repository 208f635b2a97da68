/**
 * `--help` of every task that takes flags fits an 80-column terminal, and exits 0 without doing
 * anything else.
 */
import assert from "node:assert/strict";
import { outputWithin } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

for (
  const task of ["server", "ingest", "demo", "cert", "client", "bench", "bench-cluster", "soak"]
) {
  Deno.test(`deno task ${task} --help fits 80 columns`, async () => {
    const { code, stdout, stderr } = await outputWithin(
      Deno.execPath(),
      { args: ["task", "-q", task, "--help"], cwd: ROOT, stdout: "piped", stderr: "piped" },
      `deno task ${task} --help`,
    );
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(out, /^Usage: |^deno task /m);
    const wide = out.split("\n").filter((line) => [...line].length > 80);
    assert.deepEqual(wide, [], `deno task ${task} --help has lines over 80 columns`);
  });
}
