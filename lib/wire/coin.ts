/**
 * The data model shared by ingestion, storage, the server and the client.
 *
 * Numbers that reach a user keep the exact JSON text the upstream sent, so a price is never
 * rounded or re-formatted between the upstream and the client.
 *
 * @module
 */

/** One coin of a snapshot, as stored and served. */
export interface Coin {
  /** Ticker in upper case, e.g. `BTC`; unique within a snapshot. */
  symbol: string;
  /** Display name, e.g. `Bitcoin`. */
  name: string;
  /** Market-cap rank, 1 = largest; snapshots are kept in rank order. */
  rank: number;
  /** Price in USD. */
  price: number;
  /** The price exactly as the upstream wrote it in its JSON, e.g. `"0.00001234"` or `"32797"`. */
  priceText: string;
  /** Market capitalisation in USD, when the upstream gave one. */
  marketCap: number | null;
  /** The market cap exactly as the upstream wrote it, when given. */
  marketCapText: string | null;
  /** Price change over 24 hours in percent, when given. */
  change24h: number | null;
  /** When the upstream last updated this coin (ISO-8601), when given. */
  updatedAt: string | null;
  /**
   * The provider's id (`pepe`), kept for coins fetched by id outside the top N, so a reply can
   * say which of several coins sharing a symbol it is.
   */
  id?: string;
}

/** One coin of a provider's directory of every coin it lists (CoinGecko's `/coins/list`). */
export interface DirectoryEntry {
  /** The provider's id, e.g. `bitcoin`; unique within the directory. */
  id: string;
  /** Ticker in upper case, e.g. `BTC`; several entries may share one. */
  symbol: string;
  /** Display name, e.g. `Bitcoin`. */
  name: string;
}

/** The result of one successful ingestion: the top coins at one moment. */
export interface Snapshot {
  /** Coins in rank order. */
  coins: readonly Coin[];
  /** When this snapshot was fetched and stored (ISO-8601). */
  fetchedAt: string;
  /** Which provider it came from, e.g. `coingecko`. */
  source: string;
}

/** One exchange rate: `value` units of this currency are worth one bitcoin. */
export interface ExchangeRate {
  /** Name for a person, e.g. `Vietnamese đồng`. */
  name: string;
  /** How amounts are marked, e.g. `₫` or `sats`. */
  unit: string;
  /** Units of this currency per bitcoin. */
  value: number;
  /** `fiat`, `crypto` or `commodity`. */
  type: string;
}
