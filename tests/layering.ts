/**
 * The layering check of `deno task check`: reads every module under `lib/` and the two entry
 * points, and fails when one imports a folder its layer may not. The table below is the one in
 * `docs/architecture.md` ("Layers"); change both together.
 *
 * ```sh
 * deno run --allow-read tests/layering.ts [root]
 * ```
 *
 * Import specifiers are read from the source text (static and dynamic imports, re-exports and
 * `new URL("…", import.meta.url)`, which is how a Worker or a data file is found), so the check
 * needs no network and no type check, and runs in well under a second.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";

/** A layer: a folder of `lib/` or an entry point, and what its modules may import. */
export interface Layer {
  /** What may be imported: folders (ending in `/`) or single files, relative to the root. */
  readonly mayImport: readonly string[];
}

/**
 * What each layer may import, besides itself and `node:`/npm packages: the whole rule, with no
 * exception. Everything not listed is refused, `tests/` above all: nothing that ships may depend
 * on a test. Imports run down the house: `lib/app/` composes everything, the entry points call it.
 */
export const LAYERS: Readonly<Record<string, Layer>> = {
  "lib/util/": { mayImport: ["deno.json"] },
  "lib/net/": { mayImport: ["lib/util/"] },
  "lib/metrics/": { mayImport: ["lib/util/"] },
  "lib/wire/": { mayImport: ["lib/util/"] },
  "lib/text/": { mayImport: ["lib/wire/", "lib/util/"] },
  "lib/storage/": { mayImport: ["lib/wire/", "lib/util/"] },
  "lib/cluster/": { mayImport: ["lib/storage/", "lib/wire/", "lib/util/"] },
  "lib/ingest/": { mayImport: ["lib/storage/", "lib/wire/", "lib/util/"] },
  "lib/server/": { mayImport: ["lib/net/", "lib/storage/", "lib/wire/", "lib/util/"] },
  "lib/http/": {
    mayImport: [
      ...["lib/server/", "lib/metrics/", "lib/net/", "lib/text/", "lib/web/", "lib/wire/"],
      "lib/util/",
    ],
  },
  "lib/client/": { mayImport: ["lib/net/", "lib/text/", "lib/wire/", "lib/util/"] },
  "lib/demo/": { mayImport: ["lib/wire/", "lib/util/"] },
  "lib/app/": {
    mayImport: [
      ...["lib/http/", "lib/server/", "lib/net/", "lib/metrics/", "lib/ingest/", "lib/cluster/"],
      ...["lib/storage/", "lib/demo/", "lib/text/", "lib/wire/", "lib/util/", "deno.json"],
    ],
  },
  "lib/web/": { mayImport: ["lib/text/"] },
  "server.ts": { mayImport: ["lib/app/", "lib/util/"] },
  "client.ts": { mayImport: ["lib/client/", "lib/util/"] },
};

/** One import a layer may not make. */
export interface Violation {
  /** The importing module, relative to the root. */
  readonly from: string;
  /** The imported path, relative to the root, or the specifier when it resolves nowhere known. */
  readonly to: string;
  /** Why it is refused, for a person. */
  readonly reason: string;
}

const STATIC = /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^\s*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
const URL_REF = /\bnew URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url\s*\)/g;

/** The module specifiers a source text refers to, in order of appearance per kind. */
export function specifiersOf(source: string): string[] {
  const found: string[] = [];
  for (const pattern of [STATIC, SIDE_EFFECT, DYNAMIC, URL_REF]) {
    for (const match of source.matchAll(pattern)) found.push(match[1]);
  }
  return found;
}

/** The layer a root-relative path belongs to, or undefined when it is in none. */
function layerOf(path: string): string | undefined {
  return Object.keys(LAYERS).find((layer) =>
    layer.endsWith("/") ? path.startsWith(layer) : path === layer
  );
}

function allowed(layer: string, target: string): boolean {
  if (target.startsWith(layer) && layer.endsWith("/")) return true;
  return LAYERS[layer].mayImport.some((entry) =>
    entry.endsWith("/") ? target.startsWith(entry) : target === entry
  );
}

/** Every `.ts` file under `dir`, as absolute paths. */
async function* modules(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* modules(path);
    else if (entry.isFile && /\.(ts|js|mjs)$/.test(entry.name)) yield path;
  }
}

/** Checks the tree at `root` and returns every violation; none means the layering holds. */
export async function checkLayering(root: string): Promise<Violation[]> {
  root = resolve(root);
  const files: string[] = [];
  for await (const path of modules(join(root, "lib"))) files.push(path);
  for (const entry of ["server.ts", "client.ts"]) {
    try {
      if (Deno.statSync(join(root, entry)).isFile) files.push(join(root, entry));
    } catch {
      // An entry point the tree does not have.
    }
  }
  const violations: Violation[] = [];
  for (const file of files) {
    const from = relative(root, file);
    const layer = layerOf(from);
    if (layer === undefined) {
      violations.push({
        from,
        to: from,
        reason: `${dirname(from)}/ is not in the layering table of tests/layering.ts ` +
          "(add it there and to the README's Layout map)",
      });
      continue;
    }
    for (const specifier of specifiersOf(await Deno.readTextFile(file))) {
      // Packages (node:, npm:, import-map names) are not layers of this tree.
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue;
      const to = relative(root, resolve(dirname(file), specifier));
      if (allowed(layer, to)) continue;
      const target = to.startsWith("tests/") || to === "tests" ? "tests/" : layerOf(to) ?? to;
      violations.push({
        from,
        to,
        reason: `${layer} may not import ${target} (it may import ${
          [layer.endsWith("/") ? layer : "", ...LAYERS[layer].mayImport].filter((x) => x).join(
            ", ",
          ) || "nothing of this tree"
        })`,
      });
    }
  }
  return violations;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? new URL("..", import.meta.url).pathname;
  const violations = await checkLayering(root);
  for (const v of violations) console.error(`layering: ${v.from} imports ${v.to}: ${v.reason}`);
  if (violations.length > 0) {
    console.error(`layering: ${violations.length} violation(s); see README, Layout`);
    Deno.exit(1);
  }
}
