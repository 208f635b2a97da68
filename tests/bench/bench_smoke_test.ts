import assert from "node:assert/strict";
import { outputWithin } from "../helpers.ts";

const BENCH = new URL("./bench.ts", import.meta.url).pathname;

/** Whether a C compiler is there: the bench compiles its load generator (`loadgen.c`) with it. */
async function hasCompiler(): Promise<boolean> {
  try {
    const { success } = await outputWithin(
      Deno.env.get("CC") ?? "gcc",
      { args: ["--version"], stdin: "null", stdout: "null", stderr: "null" },
      "the C compiler's --version",
      10_000,
    );
    return success;
  } catch {
    return false;
  }
}

// The bench is not a test: this only checks that it runs end to end and that every reply it
// checked was right. No timing is asserted. Ignored, with the reason in its name, where there is
// no C compiler to build the load generator.
const compiler = await hasCompiler();
Deno.test({
  name: `bench --quick runs against the real server and the floor with zero errors${
    compiler ? "" : " (ignored: no C compiler for tests/bench/loadgen.c; install gcc or set CC)"
  }`,
  ignore: !compiler,
  fn: async () => {
    const { code, stdout, stderr } = await outputWithin(
      Deno.execPath(),
      {
        args: ["run", "-A", BENCH, "--quick"],
        stdin: "null",
      },
      "bench --quick",
      180_000,
    );
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, `bench exited ${code}\n${out}\n${err}`);
    assert.match(out, /^- errors: 0 \(zero: met\)$/m);
    for (const kind of ["MARKET BTC v1", "MARKET BTC v2", "MARKET ALL v2"]) {
      assert.match(
        out,
        new RegExp(`^\\| ${kind} \\| \\d+ × \\d+ \\| [\\d,]+ \\| [\\d,]+ \\|`, "m"),
      );
    }
    assert.match(out, /^Load generator: `tests\/bench\/loadgen\.c`/m, "headroom stated");
    assert.match(
      out,
      /^\| MARKET BTC v2 \| \d+ × \d+ \| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d.]+ \| \d+% \|/m,
      "ceiling row",
    );
    assert.match(out, /^\| HISTORY BTC 30d \| [\d,]+ \| [\d.,]+ \|/m, "HISTORY row measured");
    assert.match(out, /^\| server \| 100 \| 100 \|/m, "all idle connections answered");
    assert.match(out, /^- every watcher updated: 100 of 100$/m, "every watcher got the update");
    assert.match(out, /ingestion every [\d.]+ s \([1-9]\d* during the run\)/, "ingestion ran");
    // The memory rows need /proc/PID/clear_refs; without it the bench says so instead.
    if (!/upstream memory not measured/.test(out)) {
      assert.match(out, /^\| 8\.0 \| gzip bomb: .* \| cut off at the cap \| [\d.]+ \|/m, "bomb");
      assert.match(out, /^\| 8\.0 \| valid JSON tickers, .* \| ingested \|/m, "under the cap");
    }
  },
});
