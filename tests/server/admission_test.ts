/** Admission without sockets: the total and per-address caps, and which handshake makes room. */
import assert from "node:assert/strict";
import { Admissions, type Admitted } from "../../lib/server/admission.ts";
import { handshakeToDrop } from "../../lib/net/handshake_eviction.ts";

interface Fake extends Admitted {
  readonly name: string;
  handshaking: boolean;
  closing: boolean;
  answered: boolean;
}

function fake(name: string, ip = "10.0.0.1", state: Partial<Fake> = {}): Fake {
  return {
    name,
    ip,
    handshaking: false,
    closing: false,
    answered: true,
    helloAnswered() {
      return this.answered;
    },
    ...state,
  };
}

Deno.test("past the total cap a newcomer is refused with the reason; a removal makes room", () => {
  const admissions = new Admissions<Fake>({ maxConnections: 2, maxConnectionsPerAddress: 0 });
  const a = fake("a", "10.0.0.1");
  const b = fake("b", "10.0.0.2");
  assert.deepStrictEqual(admissions.admit(a), { admitted: true });
  assert.deepStrictEqual(admissions.admit(b), { admitted: true });
  const c = fake("c", "10.0.0.3");
  assert.deepStrictEqual(admissions.admit(c), {
    admitted: false,
    reason: "2 connections are open",
  });
  assert.equal(admissions.size, 2);
  assert.equal(admissions.remove(a), true);
  assert.equal(admissions.remove(a), false, "a connection is removed once");
  assert.deepStrictEqual(admissions.admit(c), { admitted: true });
  assert.deepStrictEqual([...admissions].map((x) => x.name), ["b", "c"]);
});

Deno.test("the per-address cap counts one address only, and a removal gives its place back", () => {
  const admissions = new Admissions<Fake>({ maxConnections: 10, maxConnectionsPerAddress: 2 });
  const first = fake("1");
  assert.equal(admissions.admit(first).admitted, true);
  assert.equal(admissions.admit(fake("2")).admitted, true);
  assert.deepStrictEqual(admissions.admit(fake("3")), {
    admitted: false,
    reason: "2 connections are open from 10.0.0.1",
  });
  assert.equal(admissions.admit(fake("other", "10.0.0.9")).admitted, true);
  assert.equal(admissions.from("10.0.0.1"), 2);
  admissions.remove(first);
  assert.equal(admissions.from("10.0.0.1"), 1);
  assert.equal(admissions.admit(fake("4")).admitted, true);
  assert.equal(admissions.from("10.0.0.1"), 2);
});

Deno.test("a per-address cap of 0 is no cap", () => {
  const admissions = new Admissions<Fake>({ maxConnections: 5, maxConnectionsPerAddress: 0 });
  for (let i = 0; i < 5; i++) assert.equal(admissions.admit(fake(`${i}`)).admitted, true);
  assert.equal(admissions.admit(fake("6")).admitted, false);
});

Deno.test("at the cap, a TLS newcomer drops an unanswered ClientHello first, then the oldest", () => {
  const admissions = new Admissions<Fake>({ maxConnections: 4, maxConnectionsPerAddress: 0 });
  const done = fake("done");
  const answered = fake("answered", "10.0.0.1", { handshaking: true });
  const silent = fake("silent", "10.0.0.1", { handshaking: true, answered: false });
  const answered2 = fake("answered2", "10.0.0.1", { handshaking: true });
  for (const conn of [done, answered, silent, answered2]) admissions.admit(conn);
  assert.equal(admissions.toDropFor(false), undefined, "plain TCP newcomers drop nobody");
  assert.equal(admissions.toDropFor(true), silent);
  silent.closing = true;
  assert.equal(admissions.toDropFor(true), answered, "a closing one is no candidate");
  answered.handshaking = false;
  assert.equal(admissions.toDropFor(true), answered2);
  answered2.handshaking = false;
  assert.equal(admissions.toDropFor(true), undefined, "no handshake pending: nobody to drop");
  admissions.remove(done);
  answered2.handshaking = true;
  assert.equal(admissions.toDropFor(true), undefined, "below the cap nobody is dropped");
});

Deno.test("handshakeToDrop: the oldest unanswered before any answered, and only pending ones", () => {
  const items = [
    { id: 1, pending: false, answered: false },
    { id: 2, pending: true, answered: true },
    { id: 3, pending: true, answered: false },
    { id: 4, pending: true, answered: false },
  ];
  const pick = () => handshakeToDrop(items, (item) => item.pending, (item) => item.answered)?.id;
  assert.equal(pick(), 3);
  items[2].pending = false;
  assert.equal(pick(), 4);
  items[3].answered = true;
  assert.equal(pick(), 2);
  for (const item of items) item.pending = false;
  assert.equal(pick(), undefined);
});
