import assert from "node:assert/strict";
import fc from "fast-check";
import { Outbox, type Writer } from "../../lib/server/outbox.ts";

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
      fc.integer({ min: 1_000, max: 300_000 }),
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
    { numRuns: 30 },
  );
});
