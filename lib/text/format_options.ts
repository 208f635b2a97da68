/**
 * What the coin formatters are told about where their text goes.
 *
 * @module
 */

/** Options for {@linkcode formatTable} and {@linkcode formatCoin}. */
export interface FormatOptions {
  /** Emit ANSI colour codes. */
  color: boolean;
  /** The current time, for ages like `3m ago`; defaults to the real clock. */
  now?: Date;
  /**
   * How amounts are marked in a currency `Intl` does not know (e.g. `sats` for SATS, from
   * `CURRENCIES`); defaults to the currency code.
   */
  unit?: string;
  /**
   * The direction of each coin's last price move by symbol (`1` up, `-1` down), for a live
   * table: the price is coloured green or red.
   */
  moves?: ReadonlyMap<string, number>;
  /**
   * Terminal columns the output must fit in: a table then adds the market cap and the source
   * when they fit, and drops its least useful columns first when it is narrow. Without it, a
   * table has its classic columns and no width limit.
   */
  width?: number;
}
