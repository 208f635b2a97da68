import assert from "node:assert/strict";
import { type Flag, FlagTable, HELP_WIDTH, wrapText } from "../../lib/util/flag_table.ts";
import { UsageError } from "../../lib/util/usage_error.ts";

const FLAGS = [
  { name: "port", kind: "integer", default: "8000", min: 0, max: 65535, help: "Port", group: "A" },
  { name: "host", kind: "string", short: "H", help: "Host", group: "A", alsoEnv: ["OTHER_HOST"] },
  { name: "verbose", kind: "boolean", help: "Say more", group: "B", noEnv: true },
  { name: "wait", kind: "seconds", default: "1.5", min: 0, help: "Seconds to wait", group: "B" },
] as const satisfies readonly Flag[];

const table = new FlagTable(FLAGS, { envPrefix: "T_", groups: ["B", "A"] });
const noEnv = () => undefined;

Deno.test("flags win over environment variables, which win over defaults", () => {
  const env = (name: string) => ({ T_PORT: "9", OTHER_HOST: "h.example", T_WAIT: "2" })[name];
  const read = table.parse(["--wait", "3", "-H", "x"], env);
  assert.equal(read.action, "run");
  if (read.action !== "run") return;
  const values: { port: number; host: string | undefined; verbose: boolean; wait: number } =
    read.values;
  assert.deepEqual(values, { port: 9, host: "x", verbose: false, wait: 3 });
  const defaults = table.parse([], noEnv);
  assert.ok(defaults.action === "run");
  assert.deepEqual(defaults.values, { port: 8000, host: undefined, verbose: false, wait: 1.5 });
  assert.deepEqual(table.envOf(FLAGS[1]), ["T_HOST", "OTHER_HOST"]);
  assert.deepEqual(table.envOf(FLAGS[2]), []);
});

Deno.test("help and version are always taken; only and positionals", () => {
  assert.deepEqual(table.parse(["-h"], noEnv), { action: "help" });
  assert.deepEqual(table.parse(["--version"], noEnv), { action: "version" });
  const some = table.parse(["a", "--port", "1", "b"], noEnv, {
    only: ["port"],
    positionals: true,
  });
  assert.deepEqual(some, { action: "run", values: { port: 1 }, positionals: ["a", "b"] });
  assert.throws(() => table.parse(["--host", "x"], noEnv, { only: ["port"] }), UsageError);
  assert.throws(() => table.parse(["word"], noEnv), UsageError);
});

Deno.test("bad values are usage errors that name the flag and the expectation", () => {
  assert.throws(
    () => table.parse(["--port", "70000"], noEnv),
    new UsageError('Invalid --port "70000": expected a whole number, 0 to 65535'),
  );
  assert.throws(
    () => table.parse(["--wait=-1"], noEnv),
    new UsageError('Invalid --wait "-1": expected seconds, at least 0'),
  );
  assert.throws(
    () => table.parse([], (name) => name === "T_PORT" ? "eighty" : undefined),
    UsageError,
  );
  assert.throws(() => table.parse(["--bogus"], noEnv), /Unknown option '--bogus'/);
});

Deno.test("help lists groups in order, each flag with its default, env and wrapped text", () => {
  const long = new FlagTable([
    { name: "x", kind: "string", default: "d", help: "word ".repeat(40).trim(), group: "G" },
  ], { envPrefix: "T_" });
  const lines = long.help();
  assert.equal(lines[2], "  --x <text>  [default: d]");
  assert.ok(lines.every((line) => line.length <= HELP_WIDTH), lines.join("\n"));
  assert.ok(lines.filter((line) => line.startsWith("      word")).length >= 3);
  assert.ok(lines.includes("      env: T_X"));
  const help = table.help().join("\n");
  assert.ok(help.indexOf("B:") < help.indexOf("A:"));
  assert.match(help, /^ {2}-H, --host <text>$/m);
  assert.match(help, /^ {2}--verbose\n {6}Say more\n {2}--wait/m);
});

Deno.test("wrapText breaks at spaces within the width", () => {
  assert.deepEqual(wrapText("aa bb cc", 5, " "), [" aa", " bb", " cc"]);
  assert.deepEqual(wrapText("aaaaaaaa b", 4), ["aaaaaaaa", "b"]);
  assert.deepEqual(wrapText("", 10), []);
});
