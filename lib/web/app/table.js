/**
 * The coin table: one row per coin, kept across updates so that a changed price can flash,
 * sorted by a header the user picks and filtered by a text.
 *
 * @module
 */

import { formatChange } from "../../text/format_change.ts";
import { formatAge } from "../../text/format_time.ts";
import { html, upstream } from "./dom.js";

/** The columns a header can sort by, with the direction a first click sorts in. */
const FIRST_DIRECTION = {
  rank: 1,
  symbol: 1,
  name: 1,
  price: -1,
  change_24h: -1,
  market_cap: -1,
  updated_at: -1,
};

/**
 * @typedef {object} Row
 * @property {HTMLTableRowElement} tr
 * @property {HTMLElement[]} cells  rank, symbol, name, price, change, cap, updated
 * @property {any} coin
 */

/** The table body and its state. */
export class CoinTable {
  /**
   * @param {HTMLTableElement} table
   * @param {(coin: any) => void} onChoose  a coin was clicked or chosen with the keyboard
   */
  constructor(table, onChoose) {
    this.table = table;
    this.body = table.tBodies[0];
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    this.sortKey = "rank";
    this.direction = 1;
    this.filter = "";
    /** @type {(amount: number | null, whole?: boolean) => string} */
    this.money = (amount) => String(amount);
    this.onChoose = onChoose;
    for (const th of table.tHead.rows[0].cells) {
      th.querySelector("button").addEventListener("click", () => this.sortBy(th.dataset.key));
    }
  }

  /**
   * Shows exactly `coins`, flashing the prices that moved since the last call with the same
   * currency (`flash` false: a new currency, nothing moved).
   *
   * @param {any[]} coins
   * @param {boolean} flash
   */
  setCoins(coins, flash) {
    const seen = new Set();
    for (const coin of coins) {
      seen.add(coin.symbol);
      this.upsert(coin, flash);
    }
    for (const [symbol, row] of this.rows) {
      if (!seen.has(symbol)) {
        row.tr.remove();
        this.rows.delete(symbol);
      }
    }
    this.arrange();
  }

  /**
   * Adds or updates one coin's row; a changed price flashes up or down when `flash`.
   *
   * @param {any} coin
   * @param {boolean} flash
   */
  upsert(coin, flash) {
    let row = this.rows.get(coin.symbol);
    if (row === undefined) {
      row = this.#newRow(coin);
      this.rows.set(coin.symbol, row);
      this.body.append(row.tr);
    }
    const before = row.coin?.price;
    row.coin = coin;
    this.#fill(row);
    if (flash && typeof before === "number" && before !== coin.price) {
      const cell = row.cells[3];
      cell.classList.remove("flash-up", "flash-down");
      void cell.offsetWidth; // restarts the animation when the price moves again within it
      cell.classList.add(coin.price > before ? "flash-up" : "flash-down");
    }
  }

  /** Sorts the rows and hides those the filter does not match. */
  arrange() {
    const key = this.sortKey;
    const rows = [...this.rows.values()].sort((a, b) =>
      compare(a.coin[key], b.coin[key], this.direction) || a.coin.rank - b.coin.rank
    );
    const needle = this.filter.trim().toLowerCase();
    for (const [i, row] of rows.entries()) {
      const { symbol, name } = row.coin;
      row.tr.hidden = needle !== "" &&
        !`${symbol}`.toLowerCase().includes(needle) && !`${name}`.toLowerCase().includes(needle);
      // Only rows out of place move: a moved row would replay its flash.
      const here = this.body.rows[i];
      if (here !== row.tr) this.body.insertBefore(row.tr, here ?? null);
    }
    for (const th of this.table.tHead.rows[0].cells) {
      if (th.dataset.key === key) {
        th.setAttribute("aria-sort", this.direction === 1 ? "ascending" : "descending");
      } else th.removeAttribute("aria-sort");
    }
  }

  /**
   * Sorts by a column; the same column again reverses the order.
   *
   * @param {string} key
   */
  sortBy(key) {
    this.direction = key === this.sortKey ? -this.direction : FIRST_DIRECTION[key] ?? 1;
    this.sortKey = key;
    this.arrange();
  }

  /** The symbols of the rows shown, in the order shown. */
  shown() {
    return [...this.body.rows].filter((tr) => !tr.hidden).map((tr) => tr.dataset.symbol);
  }

  /** Rewrites the ages, which change with the clock. */
  tick() {
    const now = new Date();
    for (const row of this.rows.values()) row.cells[6].textContent = age(row.coin, now);
  }

  /** Rewrites every amount, e.g. after the currency's unit became known. */
  refill() {
    for (const row of this.rows.values()) this.#fill(row);
  }

  /** @param {any} coin */
  #newRow(coin) {
    const tr = /** @type {HTMLTableRowElement} */ (html("tr"));
    tr.dataset.symbol = coin.symbol;
    const classes = ["num rank", "symbol", "name", "num", "num", "num wide", "num wider"];
    const cells = classes.map((className, i) => html(i === 1 ? "th" : "td", className));
    cells[1].setAttribute("scope", "row");
    const button = html("button");
    button.type = "button";
    cells[1].append(button);
    cells[3].addEventListener("animationend", () => {
      cells[3].classList.remove("flash-up", "flash-down");
    });
    tr.append(...cells);
    tr.addEventListener("click", () => this.onChoose(this.rows.get(tr.dataset.symbol)?.coin));
    return { tr, cells, coin: null };
  }

  /** @param {Row} row */
  #fill(row) {
    const { coin, cells } = row;
    cells[0].textContent = String(coin.rank);
    cells[1].firstChild.textContent = upstream(coin.symbol);
    cells[1].firstChild.setAttribute("aria-label", `${upstream(coin.symbol)}: price history`);
    cells[2].textContent = upstream(coin.name);
    cells[2].title = upstream(coin.name);
    cells[3].textContent = this.money(coin.price);
    cells[4].textContent = formatChange(coin.change_24h);
    cells[4].className = `num ${signClass(coin.change_24h)}`;
    cells[5].textContent = coin.market_cap === null ? "—" : this.money(coin.market_cap, true);
    cells[6].textContent = age(coin, new Date());
    row.tr.classList.toggle("stale", coin.stale === true);
  }
}

/**
 * @param {any} coin
 * @param {Date} now
 */
function age(coin, now) {
  return formatAge(coin.updated_at, now) + (coin.stale === true ? " (stale)" : "");
}

/**
 * `up`, `down` or nothing, by the sign of a change.
 *
 * @param {number | null} change
 * @returns {string}
 */
export function signClass(change) {
  return typeof change !== "number" || change === 0 ? "" : change > 0 ? "up" : "down";
}

/**
 * Orders two cell values; missing ones last in either direction.
 *
 * @param {unknown} a
 * @param {unknown} b
 * @param {number} direction
 */
function compare(a, b, direction) {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return (a - b) * direction;
  return String(a).localeCompare(String(b)) * direction;
}
