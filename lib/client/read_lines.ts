/**
 * Lines from a byte stream, such as piped stdin, for the prompt.
 *
 * @module
 */

/** An input line was longer than the limit given to {@linkcode readLines}. */
export class LineTooLongError extends Error {
  override name = "LineTooLongError";
}

/**
 * Splits a byte stream into lines (UTF-8, `\n` or `\r\n` endings; a last line without an ending
 * counts too). Lines longer than `maxLineBytes` throw a {@linkcode LineTooLongError}.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  { maxLineBytes = 64 * 1024 }: { maxLineBytes?: number } = {},
): AsyncGenerator<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array) => {
    size += bytes.length;
    if (size > maxLineBytes) {
      throw new LineTooLongError(`Input line is longer than ${maxLineBytes} bytes`);
    }
    if (bytes.length > 0) parts.push(bytes.slice());
  };
  const take = () => {
    const line = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      line.set(p, off);
      off += p.length;
    }
    parts = [];
    size = 0;
    const text = decoder.decode(line);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let from = 0;
      for (let nl = value.indexOf(0x0a); nl !== -1; nl = value.indexOf(0x0a, from)) {
        push(value.subarray(from, nl));
        from = nl + 1;
        yield take();
      }
      push(value.subarray(from));
    }
    if (size > 0) yield take();
  } finally {
    reader.releaseLock();
  }
}
