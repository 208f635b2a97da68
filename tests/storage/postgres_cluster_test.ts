import assert from "node:assert/strict";
import { newestPostgresBin, PostgresCluster, postgresTest } from "../postgres_cluster.ts";

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

Deno.test("the harness takes the newest PostgreSQL installed, whatever its major", async () => {
  const root = await Deno.makeTempDir({ prefix: "crypto-pg-root-" });
  try {
    assert.equal(await newestPostgresBin(root), null, "none installed");
    assert.equal(await newestPostgresBin(`${root}/missing`), null);
    for (const major of ["9.6", "13", "16", "17"]) {
      await Deno.mkdir(`${root}/${major}/bin`, { recursive: true });
      // 17 is there without its programs (e.g. only the client package): not a candidate.
      if (major !== "17") await Deno.writeTextFile(`${root}/${major}/bin/initdb`, "");
    }
    await Deno.mkdir(`${root}/common/bin`, { recursive: true });
    await Deno.writeTextFile(`${root}/common/bin/initdb`, "");
    assert.equal(await newestPostgresBin(root), `${root}/16/bin`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
