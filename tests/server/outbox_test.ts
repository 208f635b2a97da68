import assert from "node:assert/strict";
import { concat, Outbox, type Writer } from "../../lib/server/outbox.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A socket stand-in: each write waits until the test lets it take at most `step` bytes. */
class ScriptedWriter implements Writer {
  readonly writes: string[] = [];
  #pending: PromiseWithResolvers<number>[] = [];
  #sizes: number[] = [];
  fail: Error | null = null;

  write(bytes: Uint8Array): Promise<number> {
    if (this.fail) return Promise.reject(this.fail);
    const next = Promise.withResolvers<number>();
    this.#pending.push(next);
    this.#sizes.push(bytes.length);
    this.writes.push(dec.decode(bytes));
    return next.promise;
  }

  /** Lets the oldest write take `n` bytes (all when omitted). */
  take(n?: number): void {
    const next = this.#pending.shift();
    const size = this.#sizes.shift();
    assert.ok(next !== undefined && size !== undefined, "no write in flight");
    next.resolve(Math.min(n ?? size, size));
  }

  get inFlight(): number {
    return this.#pending.length;
  }
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("replies queued while a write is in flight go out together in the next write", async () => {
  const writer = new ScriptedWriter();
  const outbox = new Outbox(writer, (error) => assert.fail(String(error)));
  outbox.send(enc.encode("a\n"));
  assert.deepEqual(writer.writes, ["a\n"]);
  outbox.send(enc.encode("b\n"));
  outbox.send(enc.encode("c\n"));
  assert.equal(outbox.unsent, 6);
  assert.equal(writer.inFlight, 1, "one write at a time");
  writer.take();
  await settle();
  assert.deepEqual(writer.writes, ["a\n", "b\nc\n"]);
  writer.take();
  await outbox.drained();
  assert.equal(outbox.unsent, 0);
  assert.equal(outbox.writeStart, 0);
});

Deno.test("a short write is resumed where it stopped, and progress is reported", async () => {
  const writer = new ScriptedWriter();
  const outbox = new Outbox(writer, (error) => assert.fail(String(error)));
  outbox.send(enc.encode("hello\n"));
  const progressed = outbox.progressed(10_000);
  writer.take(2);
  assert.equal(await progressed, true);
  await settle();
  assert.deepEqual(writer.writes, ["hello\n", "llo\n"]);
  assert.equal(outbox.unsent, 4);
  writer.take();
  await outbox.drained();
  assert.equal(outbox.unsent, 0);
});

Deno.test("a reader that takes nothing is reported as stalled", async () => {
  const writer = new ScriptedWriter();
  const outbox = new Outbox(writer, (error) => assert.fail(String(error)));
  outbox.send(enc.encode("x\n"));
  assert.equal(await outbox.progressed(10), false);
  writer.take();
  await outbox.drained();
});

Deno.test("a failed write is reported once and later sends are dropped", async () => {
  const writer = new ScriptedWriter();
  const errors: unknown[] = [];
  const outbox = new Outbox(writer, (error) => errors.push(error));
  writer.fail = new Deno.errors.BrokenPipe("gone");
  outbox.send(enc.encode("a\n"));
  await outbox.drained();
  outbox.send(enc.encode("b\n"));
  await outbox.drained();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BrokenPipe);
  assert.equal(outbox.unsent, 0);
  assert.deepEqual(writer.writes, []);
});

Deno.test("concat joins parts, and one part is passed through as it is", () => {
  const one = enc.encode("only\n");
  assert.equal(concat([one], one.length), one);
  const joined = concat([enc.encode("a\n"), enc.encode("bc\n")], 5);
  assert.equal(dec.decode(joined), "a\nbc\n");
  // A batch of a pooled size lands in a 64 KiB buffer, viewed to its length.
  const big = concat(
    [new Uint8Array(20_000).fill(0x61), new Uint8Array(20_000).fill(0x62)],
    40_000,
  );
  assert.equal(big.length, 40_000);
  assert.equal(big.buffer.byteLength, 64 * 1024);
  assert.equal(big[19_999], 0x61);
  assert.equal(big[20_000], 0x62);
});
