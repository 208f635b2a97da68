import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { outputWithin } from "./helpers.ts";
import { checkLayering, specifiersOf } from "./layering.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Writes `files` (path → source) into a fresh temporary tree and returns its root. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "layering_" });
  for (const [path, source] of Object.entries(files)) {
    await Deno.mkdir(join(root, dirname(path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), source);
  }
  return root;
}

Deno.test("the repository's own layering holds", async () => {
  assert.deepEqual(await checkLayering(ROOT), []);
});

Deno.test("every kind of import is read, comments and packages are not layers", () => {
  const source = [
    `import { a } from "./a.ts";`,
    `import {\n  b,\n  type C,\n} from "../wire/b.ts";`,
    `export { d } from "../util/d.ts";`,
    `import "./side_effect.ts";`,
    `const e = await import("../server/e.ts");`,
    `new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" });`,
    ` * import { f } from "../server/in_a_comment.ts";`,
  ].join("\n");
  assert.deepEqual(specifiersOf(source), [
    "./a.ts",
    "../wire/b.ts",
    "../util/d.ts",
    "./side_effect.ts",
    "../server/e.ts",
    "./_worker.ts",
  ]);
});

Deno.test("each forbidden edge of the README map is reported", async () => {
  const root = await tree({
    "lib/client/ok.ts":
      `import { x } from "../wire/protocol.ts";\nimport { y } from "../util/y.ts";`,
    "lib/client/bad.ts": `import { Market } from "../server/market.ts";`,
    "lib/wire/bad.ts": `import type { Coin } from "../ingest/coingecko.ts";`,
    "lib/storage/bad.ts": `import type { R } from "../ingest/coingecko.ts";`,
    "lib/util/bad.ts": `import { sample } from "../wire/protocol.ts";`,
    "lib/demo/bad.ts": `const data = new URL("../../tests/testdata/x.json", import.meta.url);`,
    "lib/server/bad.ts": `const m = await import("../client/cli.ts");`,
    "client.ts": `import { startService } from "./lib/server/service.ts";`,
    "lib/newfolder/x.ts": `export const x = 1;`,
  });
  try {
    const found = (await checkLayering(root)).map((v) => `${v.from} -> ${v.to}`).sort();
    assert.deepEqual(found, [
      "client.ts -> lib/server/service.ts",
      "lib/client/bad.ts -> lib/server/market.ts",
      "lib/demo/bad.ts -> tests/testdata/x.json",
      "lib/newfolder/x.ts -> lib/newfolder/x.ts",
      "lib/server/bad.ts -> lib/client/cli.ts",
      "lib/storage/bad.ts -> lib/ingest/coingecko.ts",
      "lib/util/bad.ts -> lib/wire/protocol.ts",
      "lib/wire/bad.ts -> lib/ingest/coingecko.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the script exits 1 with one line per violation, 0 on a clean tree", async () => {
  const bad = await tree({ "lib/client/bad.ts": `import "../storage/repository.ts";` });
  const clean = await tree({ "lib/client/ok.ts": `import "../wire/protocol.ts";` });
  try {
    const run = (root: string) =>
      outputWithin(Deno.execPath(), {
        args: ["run", "--allow-read", new URL("./layering.ts", import.meta.url).pathname, root],
        stdout: "piped",
        stderr: "piped",
      }, "tests/layering.ts");
    const failed = await run(bad);
    assert.equal(failed.code, 1);
    const err = new TextDecoder().decode(failed.stderr);
    assert.match(
      err,
      /^layering: lib\/client\/bad\.ts imports lib\/storage\/repository\.ts: lib\/client\/ may not import lib\/storage\/ /,
    );
    assert.equal((await run(clean)).code, 0);
  } finally {
    await Deno.remove(bad, { recursive: true });
    await Deno.remove(clean, { recursive: true });
  }
});
