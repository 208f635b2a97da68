import assert from "node:assert/strict";
import { LineClient, withDeadline } from "../helpers.ts";
import { POSTGRES_MISSING } from "../postgres_cluster.ts";
import { eventually } from "./_replicas.ts";
import { HAPROXY_CFG, HAPROXY_MISSING } from "./_haproxy.ts";
import { startProxiedReplicas } from "./_proxied_replicas.ts";

const missing = POSTGRES_MISSING ?? HAPROXY_MISSING;

Deno.test({
  name: `the HAProxy configuration is valid (haproxy -c)${
    HAPROXY_MISSING ? ` (ignored: ${HAPROXY_MISSING})` : ""
  }`,
  ignore: HAPROXY_MISSING !== null,
  async fn() {
    const { code, stderr } = await new Deno.Command("/usr/sbin/haproxy", {
      args: ["-c", "-f", HAPROXY_CFG],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  },
});

Deno.test({
  name:
    `HAProxy in front of three replicas: with one killed, clients reconnecting through it are served${
      missing ? ` (ignored: ${missing})` : ""
    }`,
  ignore: missing !== null,
  async fn() {
    await using cluster = await startProxiedReplicas();
    const { replicas, proxy, leader } = cluster;

    const lookUp = async () => {
      await using client = await LineClient.connect(proxy.port);
      return await withDeadline(
        client.request({ data: "MARKET BTC", v: 2 }),
        "via HAProxy",
        10_000,
      );
    };
    // Through the balancer every replica serves the snapshot.
    await eventually(
      async () => {
        const replies = await Promise.all(Array.from({ length: 9 }, lookUp));
        return replies.every((r) => r.status === "OK") ? true : undefined;
      },
      30_000,
      "nine look-ups via HAProxy all OK",
    );

    // Kill a follower (the leader's death is another test) and reconnect through the proxy.
    const victim = [0, 1, 2].find((i) => i !== leader)!;
    replicas.processes[victim].kill("SIGKILL");
    await withDeadline(replicas.processes[victim].exited(), "the replica exits", 10_000);
    for (let i = 0; i < 30; i++) {
      const reply = await lookUp();
      assert.equal(reply.status, "OK", `connection ${i}: ${JSON.stringify(reply)}`);
    }
  },
});
