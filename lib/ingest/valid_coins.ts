/**
 * A provider's list, record by record: a record that fails validation costs only itself, and
 * the list is refused only when what is left cannot be trusted.
 *
 * @module
 */

import type { Coin } from "../wire/coin.ts";
import { brief } from "./failure_log.ts";
import { UpstreamError } from "./upstream_error.ts";

/**
 * Called with the messages of the records a list skipped (one per record, each naming the record
 * and the field that is wrong); not called for a list with none.
 */
export type OnSkipped = (messages: readonly string[]) => void;

/**
 * Collects the coins of one answer's records. One odd coin among real data (a symbol with a
 * bidirectional override, a price that is not a number) must not freeze every price, so each
 * record is validated alone and a bad one is skipped; but when most records fail the answer as a
 * whole is suspect (a changed format, a broken proxy), and serving the few that pass would replace
 * a good snapshot with a thin one.
 */
export class ValidCoins {
  readonly #skipped: string[] = [];
  #examined = 0;

  /**
   * The coin `parse` makes of one record, or null when it throws an {@linkcode UpstreamError}
   * (the record is then skipped, with that message). Other errors are thrown as they are.
   */
  take(parse: () => Coin): Coin | null {
    this.#examined++;
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      this.#skipped.push(error.message);
      return null;
    }
  }

  /**
   * Reports the skipped records to `onSkipped`, once for the whole list.
   *
   * @throws {UpstreamError} when fewer than half of the records taken were valid: the first
   *   invalid record's message, with the count
   */
  settle(onSkipped: OnSkipped | undefined): void {
    const skipped = this.#skipped;
    if (skipped.length === 0) return;
    if ((this.#examined - skipped.length) * 2 < this.#examined) {
      throw new UpstreamError(
        `${
          skipped[0]
        } (${skipped.length} of ${this.#examined} records invalid, too many to trust ` +
          `the rest)`,
      );
    }
    onSkipped?.(skipped);
  }
}

/** Skipped records named in one log line at most; the rest are counted. */
const NAMED_SKIPS = 3;

/** One log line for the records a provider's answer skipped. */
export function describeSkipped(provider: string, messages: readonly string[]): string {
  const named = messages.slice(0, NAMED_SKIPS).map((message) => brief(message)).join("; ");
  const more = messages.length > NAMED_SKIPS ? `; and ${messages.length - NAMED_SKIPS} more` : "";
  const records = messages.length === 1 ? "1 record" : `${messages.length} records`;
  return `provider ${provider} skipped ${records} that failed validation and kept the rest: ${named}${more}`;
}
