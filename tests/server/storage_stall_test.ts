/**
 * The event loop never waits for storage: a real server whose SQLite file is locked by another
 * process keeps answering, and a long history is answered from a bounded number of rows.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { startFakeUpstream } from "../fakes/fake_upstream.ts";
import { LineClient, withDeadline } from "../helpers.ts";
import { ServerProcess } from "../server_process.ts";
import { seedPreviousVersion } from "../history_seed.ts";

/**
 * How long a PING may take while storage is busy: far above a loaded machine's jitter, far below
 * the 5 s a save waits for a lock (the server's busy timeout), which is what it took before.
 */
const PING_DEADLINE_MS = 2000;

/** Sends PING and fails the test unless the answer arrives before the deadline. */
async function ping(client: LineClient, what: string): Promise<void> {
  const reply = await withDeadline(
    client.request({ status: "OK", data: "PING", v: 2 }),
    `PING ${what}`,
    PING_DEADLINE_MS,
  );
  assert.equal(reply.data, "PONG");
}

/** The real server on `db`, ingesting from `apiUrl` every `refresh` seconds. */
function serve(db: string, apiUrl: string, refresh: string): ServerProcess {
  return new ServerProcess(["--port", "0", "--db", db, "--api-url", apiUrl, "--refresh", refresh]);
}

/** A process that holds `BEGIN EXCLUSIVE` on a SQLite file until its stdin closes. */
async function lockDatabase(dir: string, db: string) {
  const script = join(dir, "locker.ts");
  await Deno.writeTextFile(
    script,
    `import { DatabaseSync } from "node:sqlite";
     const db = new DatabaseSync(Deno.args[0]);
     db.exec("PRAGMA busy_timeout = 10000");
     db.exec("BEGIN EXCLUSIVE");
     console.log("locked");
     for await (const _ of Deno.stdin.readable) { /* held until stdin closes */ }
     db.exec("ROLLBACK");
     db.close();`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", script, db],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await withDeadline(reader.read(), "the locker to take the lock", 20_000);
  assert.match(first.value ?? "", /locked/);
  return {
    async release() {
      await child.stdin.close();
      await reader.cancel();
      assert.equal((await child.status).code, 0);
    },
  };
}

Deno.test("a database locked by another process stalls no client: PING and HISTORY answer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "storage-lock-" });
  await using upstream = await startFakeUpstream();
  const db = join(dir, "crypto.sqlite");
  try {
    await using server = serve(db, upstream.baseUrl, "0.5");
    const port = await server.port();
    await server.output.waitFor(/^ingested \d+ coins/, { timeoutMs: 20_000 });
    await using client = await LineClient.connect(port);
    await ping(client, "before the lock");

    const locker = await lockDatabase(dir, db);
    try {
      // Saves now wait for the lock (5 s each, then fail). Until two of them have failed, every
      // PING is answered within the deadline, and so is a HISTORY, which reads meanwhile.
      const locked = /^ingestion failed.*database is locked/;
      const failed = (async () => {
        let from = server.output.lines.length;
        for (let i = 0; i < 2; i++) {
          const line = await server.output.waitFor(locked, { sinceIndex: from, timeoutMs: 30_000 });
          from = server.output.lines.indexOf(line, from) + 1;
        }
      })();
      let done = false;
      failed.finally(() => done = true);
      let pings = 0;
      while (!done) {
        await ping(client, `while the database is locked (after ${pings} answered)`);
        pings++;
        if (pings === 3) {
          const history = await withDeadline(
            client.request({ status: "OK", data: "HISTORY BTC 24h", v: 2 }),
            "HISTORY while the database is locked",
            PING_DEADLINE_MS,
          );
          assert.equal(history.status, "OK", JSON.stringify(history));
        }
      }
      await failed;
      assert.ok(pings > 3, `${pings} PINGs answered during two failed saves`);
    } finally {
      await locker.release();
    }
    // Once the lock is gone, ingestion goes on.
    const after = server.output.lines.length;
    await server.output.waitFor(/^ingested \d+ coins/, { sinceIndex: after, timeoutMs: 30_000 });
    await ping(client, "after the lock");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HISTORY BTC 30d over a long history reads a bounded number of rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "storage-history-" });
  await using upstream = await startFakeUpstream();
  const db = join(dir, "crypto.sqlite");
  // 30 days at a 10 s refresh (the 1 s gives ten times more; `tests/bench/history.ts`
  // measures that one). Prices cycle from 20000 to 20999.
  const count = 30 * 8640;
  seedPreviousVersion(db, count, 10, Math.floor(Date.now() / 1000) - 10);
  try {
    await using server = serve(db, upstream.baseUrl, "3600");
    // Opening upgrades the file: its history is rolled up once, in the storage worker.
    const port = await server.port(60_000);
    await server.output.waitFor(/^ingested \d+ coins/, { timeoutMs: 30_000 });
    await using asker = await LineClient.connect(port);
    await using pinger = await LineClient.connect(port);
    const asked = withDeadline(
      asker.request({ status: "OK", data: "HISTORY BTC 30d", v: 2 }),
      "HISTORY BTC 30d",
    );
    await ping(pinger, "while HISTORY BTC 30d is read");
    const { data } = await asked as { data: Record<string, unknown> };
    const points = data.points as [string, number][];
    assert.ok(points.length <= 200 && points.length >= 150, `${points.length} points`);
    // Every price in the window counts, though the window's start moved a little since seeding.
    assert.ok((data.count as number) > count - 100 && (data.count as number) <= count + 1);
    assert.equal(data.min, 20000);
    assert.equal(data.max, 20999);
    assert.equal(points.at(-1)![1], 20220, "the price just ingested is the last point");
  } finally {
    // What answered it: the hourly buckets, 30 days of them, not a quarter of a million rows.
    const file = new DatabaseSync(db, { readOnly: true });
    try {
      const { rows } = file.prepare(
        "SELECT COUNT(*) AS rows FROM price_rollup WHERE symbol = 'BTC' AND step = 3600",
      ).get() as { rows: number };
      assert.ok(rows >= 720 && rows <= 722, `${rows} hourly rows`);
    } finally {
      file.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
});
