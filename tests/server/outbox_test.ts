import assert from "node:assert/strict";
import fc from "fast-check";
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
  // A batch lands in a pooled buffer of the smallest size class that holds it, viewed to its
  // length: 40,000 bytes in a 64 KiB one.
  const big = concat(
    [new Uint8Array(20_000).fill(0x61), new Uint8Array(20_000).fill(0x62)],
    40_000,
  );
  assert.equal(big.length, 40_000);
  assert.equal(big.buffer.byteLength, 64 * 1024);
  assert.equal(big[19_999], 0x61);
  assert.equal(big[20_000], 0x62);
});

/**
 * A writer that takes at most `chunk` bytes per call and settles each write on a later task, so
 * batches queue up behind a write in flight as they do on a busy socket. It keeps a copy of every
 * byte at the moment it is written: a pooled buffer reused too early would show as wrong bytes.
 */
class SlowWriter implements Writer {
  readonly writes: number[] = [];
  readonly #chunks: Uint8Array[] = [];
  constructor(readonly chunk: number) {}

  /** Everything written so far, in order. */
  get received(): Uint8Array {
    return join(this.#chunks);
  }

  async write(bytes: Uint8Array): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const n = Math.min(this.chunk, bytes.length);
    this.writes.push(n);
    this.#chunks.push(bytes.slice(0, n));
    return n;
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function filled(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

Deno.test("replies sent together go out as one write while the socket takes them whole", async () => {
  const writer = new SlowWriter(1 << 30);
  const outbox = new Outbox(writer, (error) => assert.fail(`write failed: ${error}`));
  const parts = [filled(300, 1), filled(5000, 2), filled(40, 3)];
  outbox.sendAll(parts, 5340);
  parts.length = 0; // the caller reuses its array at once, as the server's read loop does
  await outbox.drained();
  assert.deepEqual(writer.writes, [5340]);
  assert.deepEqual(writer.received, join([filled(300, 1), filled(5000, 2), filled(40, 3)]));
  assert.equal(outbox.unsent, 0);
});

Deno.test("every byte arrives in order whatever the batch sizes, partial writes and reuse of pooled buffers", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.integer({ min: 8_000, max: 300_000 }),
      async (batches, chunk) => {
        // Three connections write at once, so a buffer one gives back too early is reused by
        // another while its own write is still in flight.
        const writers = [0, 1, 2].map(() => new SlowWriter(chunk));
        const outboxes = writers.map((writer) =>
          new Outbox(writer, (error) => assert.fail(`write failed: ${error}`))
        );
        const expected: Uint8Array[][] = [[], [], []];
        let seed = 0;
        for (const sizes of batches) {
          const parts = sizes.map((size) => filled(size, seed));
          expected[seed % 3].push(...parts);
          outboxes[seed % 3].sendAll(parts, sizes.reduce((a, b) => a + b, 0));
          seed++;
          // Let some writes settle between batches, so pooled buffers are given back and reused.
          if (seed % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        }
        await Promise.all(outboxes.map((outbox) => outbox.drained()));
        writers.forEach((writer, i) => assert.deepEqual(writer.received, join(expected[i])));
        for (const outbox of outboxes) assert.equal(outbox.unsent, 0);
      },
    ),
    { numRuns: 20 },
  );
});

Deno.test("concat copies runs of one reply as the parts in order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 40 })), {
        minLength: 2,
        maxLength: 20,
      }),
      (runs) => {
        // Replies are shared objects, as the reply cache hands them out: a run repeats one.
        const replies = [filled(23, 1), filled(259, 2), filled(2449, 3), filled(1, 4)];
        const parts = runs.flatMap(([which, count]) => Array(count).fill(replies[which]));
        const total = parts.reduce((sum, part) => sum + part.length, 0);
        assert.deepEqual(concat(parts, total), join(parts));
      },
    ),
  );
});

Deno.test("a reader that writes its batch itself keeps every byte in order with events sent meanwhile", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(fc.boolean(), fc.array(fc.integer({ min: 1, max: 30_000 }), { maxLength: 5 })),
        { minLength: 1, maxLength: 12 },
      ),
      fc.integer({ min: 4_000, max: 100_000 }),
      async (batches, chunk) => {
        const writer = new SlowWriter(chunk);
        const outbox = new Outbox(writer, (error) => assert.fail(`write failed: ${error}`));
        const expected: Uint8Array[] = [];
        const events: Promise<void>[] = [];
        let seed = 0;
        for (const [byReader, sizes] of batches) {
          const parts = sizes.map((size) => filled(size, seed++));
          expected.push(...parts);
          const total = sizes.reduce((a, b) => a + b, 0);
          if (!byReader) {
            outbox.sendAll(parts, total);
            continue;
          }
          // As the server's read loop does: write, and meanwhile an event is sent.
          const write = outbox.write(parts, total, Date.now());
          const event = filled(50, seed++);
          expected.push(event);
          events.push(Promise.resolve().then(() => outbox.send(event)));
          await events.at(-1);
          if (write !== null) outbox.wrote(await write);
        }
        await outbox.drained();
        assert.deepEqual(writer.received, join(expected));
        assert.equal(outbox.unsent, 0);
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("a reader's failed write is reported once and what follows is dropped", async () => {
  const writer = new ScriptedWriter();
  const errors: unknown[] = [];
  const outbox = new Outbox(writer, (error) => errors.push(error));
  writer.fail = new Error("reset");
  const write = outbox.write([enc.encode("a\n"), enc.encode("b\n")], 4, Date.now());
  assert.ok(write !== null);
  await assert.rejects(write);
  outbox.writeFailed(new Error("reset"));
  assert.equal(errors.length, 1);
  assert.equal(outbox.write([enc.encode("c\n")], 2, Date.now()), null);
  outbox.send(enc.encode("d\n"));
  await outbox.drained();
  assert.equal(outbox.unsent, 0);
  assert.equal(errors.length, 1);
});

Deno.test("finish: the last bytes follow the rest of the write in flight, in place of the queue", async () => {
  const writer = new ScriptedWriter();
  const outbox = new Outbox(writer, (error) => assert.fail(String(error)));
  outbox.send(enc.encode("first reply\n"));
  outbox.send(enc.encode("queued\n"));
  let finished = false;
  const done = outbox.finish(enc.encode("farewell\n")).then(() => finished = true);
  outbox.send(enc.encode("after\n"));
  // The socket takes part of the reply in flight: the rest goes before the last bytes.
  writer.take(5);
  await settle();
  writer.take();
  await settle();
  assert.equal(finished, false);
  writer.take();
  await done;
  assert.deepEqual(writer.writes, ["first reply\n", " reply\n", "farewell\n"]);
  assert.equal(outbox.unsent, 0);
  outbox.send(enc.encode("later\n"));
  assert.equal(writer.inFlight, 0, "nothing is written after the last bytes");
});
