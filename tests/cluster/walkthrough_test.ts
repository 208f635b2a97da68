/**
 * `docs/cluster.md`'s walk-through, run as written: its `sh walkthrough` blocks in order, in one
 * bash, as root, from the repository's folder, with the PostgreSQL and HAProxy the machine has.
 * Only what must not clash with other runs differs: the documented ports become free ones (HAProxy
 * gets them through `CRYPTO_LB_BIND` and `CRYPTO_REPLICA1`..`3`, which its configuration reads),
 * the working folder a temporary one, and the demo's database a file of its own. The last block
 * stops everything; the test then checks that nothing is left, and cleans up itself when a step
 * failed before that.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, withDeadline } from "../helpers.ts";
import { POSTGRES_BIN, POSTGRES_MISSING } from "../postgres_cluster.ts";
import { HAPROXY_MISSING } from "./_haproxy.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOC = join(ROOT, "docs/cluster.md");

/** The ports the walk-through names, each replaced by a free one. */
const PORTS = [7100, 7101, 7102, 7103, 7110, 7111, 7112, 7113, 7132, 7199] as const;
/** The walk-through's working folder and the demo's database, replaced by this run's own. */
const WORK_DIR = "/tmp/crypto-cluster";
const DEMO_DB = "cluster-demo.sqlite";
/** How long the whole walk-through may take, on a busy machine. */
const DEADLINE_MS = 240_000;

/** The fenced blocks tagged `sh walkthrough`, in the order the document gives them. */
function walkthroughBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh walkthrough\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

const asRoot = await (async () => {
  const { stdout } = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output();
  return new TextDecoder().decode(stdout).trim() === "0";
})();

const missing = !asRoot
  ? "the walk-through runs as root (PostgreSQL's programs through runuser)"
  : POSTGRES_MISSING ?? HAPROXY_MISSING ??
    (POSTGRES_BIN?.startsWith("/usr/lib/postgresql/")
      ? null
      : `the walk-through finds PostgreSQL in /usr/lib/postgresql/*/bin, not ${POSTGRES_BIN}`);

Deno.test("the walk-through's blocks are found in docs/cluster.md, the last one stopping all", async () => {
  const blocks = walkthroughBlocks(await Deno.readTextFile(DOC));
  assert.ok(blocks.length >= 5, `expected the walk-through's steps, found ${blocks.length} blocks`);
  const last = blocks.at(-1)!;
  assert.match(last, /kill \$\(jobs -p\)/);
  assert.match(last, /pg_ctl stop/);
  assert.match(last, /rm -rf \$W/);
});

/** Replaces every `from` in `text`, failing when the document no longer has it. */
function replaceAll(text: string, from: string | RegExp, to: string): string {
  const pattern = typeof from === "string" ? from : new RegExp(from.source, "g");
  const found = typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
  assert.ok(found, `docs/cluster.md's walk-through no longer mentions ${from}`);
  return typeof pattern === "string"
    ? text.replaceAll(pattern, to)
    : text.replace(new RegExp(pattern.source, "g"), to);
}

/** The walk-through as one script for this run, and the environment HAProxy reads. */
function prepare(
  blocks: string[],
  ports: Map<number, number>,
  workDir: string,
  demoDb: string,
): { script: string; env: Record<string, string> } {
  let script = blocks.join("\n");
  script = replaceAll(script, WORK_DIR, workDir);
  script = replaceAll(script, DEMO_DB, demoDb);
  for (const [documented, free] of ports) {
    script = replaceAll(script, new RegExp(`\\b${documented}\\b`), String(free));
  }
  const env: Record<string, string> = { CRYPTO_LB_BIND: `127.0.0.1:${ports.get(7100)}` };
  env.CRYPTO_LB_HTTP_BIND = `127.0.0.1:${ports.get(7110)}`;
  for (const i of [1, 2, 3]) {
    env[`CRYPTO_REPLICA${i}`] = `127.0.0.1:${ports.get(7100 + i)}`;
    env[`CRYPTO_REPLICA${i}_HTTP`] = `127.0.0.1:${ports.get(7110 + i)}`;
  }
  return { script: `set -euxo pipefail\n${script}\n`, env };
}

function freePorts(): Map<number, number> {
  const ports = new Map<number, number>();
  const taken = new Set<number>();
  for (const documented of PORTS) {
    let port = freePort();
    while (taken.has(port)) port = freePort();
    taken.add(port);
    ports.set(documented, port);
  }
  return ports;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to every process the walk-through started (they share its process group). */
function signalGroup(group: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-group, signal);
  } catch {
    // The group is gone: the walk-through stopped everything itself.
  }
}

/** After a failed step: stops what the walk-through started and removes what it made. */
async function cleanUp(group: number, workDir: string, demoDb: string): Promise<void> {
  signalGroup(group, "SIGTERM");
  if (await exists(join(workDir, "pg", "postmaster.pid"))) {
    const pgCtl = join(POSTGRES_BIN!, "pg_ctl");
    await new Deno.Command("runuser", {
      args: ["-u", "postgres", "--", pgCtl, "stop", "-D", `${workDir}/pg`, "-m", "immediate"],
      stdout: "null",
      stderr: "null",
    }).output();
  }
  signalGroup(group, "SIGKILL");
  await Deno.remove(join(workDir, ".."), { recursive: true }).catch(() => {});
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.remove(join(ROOT, "data", demoDb + suffix)).catch(() => {});
  }
}

Deno.test({
  name: `docs/cluster.md's walk-through runs as written${missing ? ` (ignored: ${missing})` : ""}`,
  ignore: missing !== null,
  async fn() {
    const blocks = walkthroughBlocks(await Deno.readTextFile(DOC));
    const top = await Deno.makeTempDir({ prefix: "crypto-walkthrough-" });
    // The postgres user must reach the working folder inside it.
    await Deno.chmod(top, 0o755);
    const workDir = join(top, "cluster");
    const demoDb = `cluster-demo-${crypto.randomUUID().slice(0, 8)}.sqlite`;
    const ports = freePorts();
    const { script, env } = prepare(blocks, ports, workDir, demoDb);
    const child = new Deno.Command("setsid", {
      args: ["bash", "-c", script],
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    let result: Deno.CommandOutput;
    try {
      result = await withDeadline(output, "the walk-through to finish", DEADLINE_MS);
    } catch (error) {
      await cleanUp(child.pid, workDir, demoDb);
      await withDeadline(output, "the walk-through's processes to end", 30_000);
      throw error;
    }
    const decoder = new TextDecoder();
    const out = decoder.decode(result.stdout);
    const err = decoder.decode(result.stderr);
    const left = await exists(workDir);
    await cleanUp(child.pid, workDir, demoDb);
    assert.equal(result.code, 0, `the walk-through failed:\n${out}\n${err.slice(-3000)}`);
    assert.match(out, /^Bitcoin\b/m, out);
    assert.match(out, /^ {2}Price +\$[\d,]+\.\d\d$/m, out);
    assert.match(
      out,
      /^Cluster +(leader|follower)\b.* since .*database 127\.0\.0\.1:\d+\/crypto/m,
      out,
    );
    assert.equal(out.match(/cluster: leader /g)?.length, 1, out);
    assert.match(out, /^\{"symbol":"BTC".*"price":/m, out);
    assert.equal(out.match(/cluster: follower /g)?.length, 2, out);
    // The last block stopped everything and removed what the walk-through made.
    assert.ok(!left, `the walk-through's last block left ${workDir}`);
    assert.ok(!await exists(join(ROOT, "data", demoDb)), `the walk-through left data/${demoDb}`);
    for (const port of ports.values()) {
      using _ = Deno.listen({ hostname: "127.0.0.1", port }); // throws while still in use
    }
  },
});
