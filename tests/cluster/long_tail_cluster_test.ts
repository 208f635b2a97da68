/**
 * The long tail in cluster mode, against a real PostgreSQL and three real `server.ts` processes:
 * only the leader calls the upstream; followers asked for coins outside the top N record wishes
 * and answer once the leader has stored the coins, so every coin is fetched once for all of them.
 */

import assert from "node:assert/strict";
import { PostgresCluster, postgresTest } from "../postgres_cluster.ts";
import { startFakeLongTailUpstream } from "../fakes/fake_long_tail_upstream.ts";
import { ask, eventually, Replicas } from "./_replicas.ts";

postgresTest(
  "followers wish, the leader fetches each long-tail coin once, every replica answers the same",
  async () => {
    await using pg = await PostgresCluster.start();
    await using upstream = await startFakeLongTailUpstream();
    // A long refresh: the asks below happen between two rounds of the leader.
    await using replicas = await Replicas.start(3, pg.url, upstream, ["--refresh", "30"]);
    const leader = await replicas.serving();
    const ingested = () => replicas.processes[leader].output.matching(/^ingested /).length;
    // The leader fetched and stored the directory; its NOTIFY makes every follower load it.
    await eventually(
      async () => {
        const found = await Promise.all(replicas.ports.map((port) => ask(port, "SEARCH bonk")));
        return found.every((r) => (r.data as unknown[] | undefined)?.length) ? true : undefined;
      },
      30_000,
      "every replica searches the directory",
    );
    assert.equal(upstream.count("/coins/list"), 1, "one replica fetched the directory");

    const rounds = ingested();
    const symbols = ["BONK", "FLOKI", "WIF", "PEPE", "ID:BASED-PEPE"];
    const replies = await Promise.all(
      replicas.ports.flatMap((port) => symbols.map((s) => ask(port, `MARKET ${s}`))),
    );
    for (const reply of replies) assert.equal(reply.status, "OK", JSON.stringify(reply));
    // Every replica serves the one price the leader fetched.
    for (let i = 0; i < symbols.length; i++) {
      const answers = replicas.ports.map((_, r) => JSON.stringify(replies[r * symbols.length + i]));
      assert.equal(new Set(answers).size, 1, `${symbols[i]}: ${answers.join(" / ")}`);
    }
    assert.equal((replies[3].data as { id: string }).id, "pepe");

    // Each coin was asked for by id once, plus once per refresh round of the leader since.
    const refreshes = ingested() - rounds;
    const perId = new Map<string, number>();
    for (const ids of upstream.idRequests) {
      for (const id of ids) perId.set(id, (perId.get(id) ?? 0) + 1);
    }
    for (const id of ["bonk", "floki", "dogwifcoin", "pepe", "based-pepe"]) {
      const n = perId.get(id) ?? 0;
      assert.ok(n >= 1 && n <= 1 + refreshes, `${id} fetched ${n} times, ${refreshes} refreshes`);
    }
    // Followers never call the upstream: every request came from one process (the leader's
    // requests are all it made; a follower's would add a second /coins/list or /coins/markets).
    const followers = [0, 1, 2].filter((i) => i !== leader);
    for (const i of followers) {
      assert.ok(
        !replicas.processes[i].output.lines.some((line) => /coin directory: \d+ coins/.test(line)),
        "a follower fetched the directory",
      );
    }
  },
);
