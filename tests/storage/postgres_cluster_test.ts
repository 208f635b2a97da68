import assert from "node:assert/strict";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";

postgresTest("the PostgreSQL test cluster starts, stops, starts again and is removed", async () => {
  const pg = await PostgresCluster.start();
  try {
    assert.match(
      pg.url,
      new RegExp(`^postgres://crypto:${pg.password}@127\\.0\\.0\\.1:${pg.port}/crypto$`),
    );
    assert.equal((await pg.psql("SELECT current_user")).trim(), "postgres");
    assert.equal(
      (await pg.psql("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'crypto'"))
        .trim(),
      "t",
      "the test user logs in with a password",
    );
    await pg.stop();
    assert.equal(pg.running, false);
    await assert.rejects(() => pg.psql("SELECT 1"), /psql/);
    await pg.start();
    assert.equal((await pg.psql("SELECT 1", "crypto")).trim(), "1");
  } finally {
    await pg.remove();
  }
  await assert.rejects(() => Deno.stat(pg.dir), Deno.errors.NotFound);
});
