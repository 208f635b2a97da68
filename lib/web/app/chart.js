/**
 * A coin's price history in a dialog: low, high, first, last and change as the terminal
 * client's `history` shows them, and an SVG line chart with a price axis and a time axis over
 * the whole range (so a coin with recent prices only starts mid-chart), or as candles.
 *
 * @module
 */

import { formatChange } from "../../text/format_change.ts";
import { apiPath, getJson } from "./api.js";
import { byId, html, upstream } from "./dom.js";
import { candleChart, lineChart } from "./plot.js";
import { signClass } from "./table.js";

/** Milliseconds per range, as the server windows them. */
const SPANS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 604_800_000, "30d": 2_592_000_000 };

/**
 * The candle interval of each range and its length in seconds: 24 to 96 candles, each within the
 * longest range the server allows that interval (`CANDLE_MAX_RANGE` in lib/wire/candles.ts).
 */
const CANDLES = {
  "1h": ["1m", 60],
  "24h": ["15m", 900],
  "7d": ["4h", 14_400],
  "30d": ["1d", 86_400],
};

/** The history dialog. */
export class ChartView {
  /**
   * @param {() => string} currency
   * @param {(amount: number | null) => string} money  formats an amount in that currency
   */
  constructor(currency, money) {
    this.currency = currency;
    this.money = money;
    this.dialog = byId("chart");
    this.range = "24h";
    this.mode = "line";
    this.candles = null;
    /** @type {string | null} */
    this.symbol = null;
    this.history = null;
    this.asked = 0;
    byId("chart-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => this.symbol = null);
    this.#choice("range", (range) => this.range = range);
    this.#choice("mode", (mode) => this.mode = mode);
    addEventListener("resize", () => this.history && this.#draw(this.history));
  }

  /**
   * Makes the `data-<name>` buttons one choice: a click presses that button alone, hands its value
   * to `choose` and fetches again.
   *
   * @param {string} name
   * @param {(value: string) => void} choose
   */
  #choice(name, choose) {
    const buttons = [...this.dialog.querySelectorAll(`[data-${name}]`)];
    for (const button of buttons) {
      button.addEventListener("click", () => {
        choose(button.dataset[name]);
        for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
        this.refresh();
      });
    }
  }

  /**
   * Opens the dialog on a coin.
   *
   * @param {any} coin
   */
  open(coin) {
    this.symbol = coin.symbol;
    this.history = null;
    byId("chart-title").textContent = `${upstream(coin.name)} (${upstream(coin.symbol)})`;
    byId("chart-stats").replaceChildren();
    byId("chart-plot").replaceChildren();
    byId("chart-note").textContent = "Loading…";
    if (!this.dialog.open) this.dialog.showModal();
    this.refresh();
  }

  /** Fetches the history again (a new range, currency or price); the latest request wins. */
  async refresh() {
    if (this.symbol === null) return;
    const asked = ++this.asked;
    const coin = `coins/${encodeURIComponent(this.symbol)}`;
    const currency = this.currency();
    try {
      // The server keeps history in USD and converts it at the current rate when asked.
      const [interval] = CANDLES[this.range];
      const [history, candles] = await Promise.all([
        getJson(apiPath(`${coin}/history`, currency, { range: this.range })),
        this.mode === "candles"
          ? getJson(apiPath(`${coin}/candles`, currency, { interval, range: this.range }))
          : null,
      ]);
      if (asked !== this.asked || this.symbol === null) return;
      this.candles = candles;
      this.history = history;
      this.#draw(this.history);
    } catch (error) {
      if (asked === this.asked) byId("chart-note").textContent = `No history: ${error.message}`;
    }
  }

  /** @param {any} history */
  #draw(history) {
    const points = Array.isArray(history.points) ? history.points : [];
    const money = (/** @type {number | null} */ v) => this.money(v, history.currency);
    const stats = [
      ["Last", money(history.last)],
      ["Change", formatChange(history.change_pct)],
      ["First", money(history.first)],
      ["Low", money(history.min)],
      ["High", money(history.max)],
      ["Prices", `${Number(history.count).toLocaleString()} stored`],
    ];
    byId("chart-stats").replaceChildren(...stats.map(([term, value]) => {
      const pair = html("div");
      const dd = html("dd", term === "Change" ? signClass(history.change_pct) : "", value);
      pair.append(html("dt", "", term), dd);
      return pair;
    }));
    const note = points.length === 0
      ? `No prices stored in the last ${upstream(history.range)}.`
      : history.currency !== "USD"
      ? "Converted from USD at the current rate: the server keeps history in USD."
      : "";
    byId("chart-note").textContent = note;
    const plot = byId("chart-plot");
    const width = Math.max(280, Math.floor(plot.clientWidth || 600));
    const options = {
      width,
      height: Math.round(Math.min(260, Math.max(170, width * 0.45))),
      span: SPANS[history.range],
      label: money,
      trend: signClass(history.change_pct),
      title: `${upstream(history.symbol)} over ${upstream(history.range)}`,
    };
    const candles = this.candles;
    if (candles === null || candles.range !== history.range) {
      plot.replaceChildren(lineChart(points, options));
      return;
    }
    const [interval, seconds] = CANDLES[history.range];
    options.title = `${upstream(history.symbol)} ${interval} candles over ${history.range}`;
    // The server converts candles itself; its reply names the currency they are in.
    options.label = (/** @type {number} */ v) => this.money(v, candles.currency);
    plot.replaceChildren(candleChart(candles.candles ?? [], seconds, options));
  }
}
