import assert from "node:assert/strict";
import { DeferredRepository, NotConnectedError } from "../../lib/cluster/deferred_repository.ts";
import { SqliteRepository } from "../../lib/storage/sqlite_repository.ts";
import { fixtureSnapshot } from "../helpers.ts";

Deno.test("DeferredRepository: rejects at once until opened, retries a failed open, then delegates", async () => {
  let attempts = 0;
  const repository = new DeferredRepository(() => {
    attempts++;
    return attempts === 1
      ? Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"))
      : SqliteRepository.open(":memory:");
  }, "postgres://127.0.0.1:5432/crypto");
  try {
    await assert.rejects(repository.loadSnapshot(), NotConnectedError);
    await assert.rejects(
      repository.historySeries("BTC", "2022-10-04T00:00:00Z"),
      NotConnectedError,
    );
    await assert.rejects(repository.ready(), /ECONNREFUSED/);
    await assert.rejects(repository.latestSnapshotTime(), NotConnectedError);
    // The second attempt opens it; concurrent callers share that one attempt.
    const [a, b] = await Promise.all([repository.ready(), repository.ready()]);
    assert.equal(a, b);
    assert.equal(attempts, 2);
    const snapshot = await fixtureSnapshot();
    await repository.saveSnapshot(snapshot);
    assert.equal(await repository.latestSnapshotTime(), snapshot.fetchedAt);
    assert.deepEqual(
      (await repository.loadSnapshot())?.coins.map((c) => c.symbol),
      snapshot.coins.map((c) => c.symbol),
    );
  } finally {
    await repository.close();
  }
  await assert.rejects(repository.ready(), NotConnectedError);
});
