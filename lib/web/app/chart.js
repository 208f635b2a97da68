/**
 * A coin's price history in a dialog: low, high, first, last and change as the terminal
 * client's `history` shows them, and an SVG line chart with a price axis and a time axis over
 * the whole range (so a coin with recent prices only starts mid-chart).
 *
 * @module
 */

import { formatChange } from "../../text/format_change.ts";
import { apiPath, getJson } from "./api.js";
import { byId, html, svg, upstream } from "./dom.js";
import { signClass } from "./table.js";

/** Milliseconds per range, as the server windows them. */
const SPANS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 604_800_000, "30d": 2_592_000_000 };

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
    /** @type {string | null} */
    this.symbol = null;
    this.history = null;
    this.asked = 0;
    byId("chart-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => this.symbol = null);
    for (const button of this.dialog.querySelectorAll("[data-range]")) {
      button.addEventListener("click", () => {
        this.range = button.dataset.range;
        for (const b of this.dialog.querySelectorAll("[data-range]")) {
          b.setAttribute("aria-pressed", String(b === button));
        }
        this.refresh();
      });
    }
    addEventListener("resize", () => this.history && this.#draw(this.history));
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
      // The server keeps history in USD: another currency is converted at the current rate.
      const [history, there, here] = await Promise.all([
        getJson(apiPath(`${coin}/history`, "USD", { range: this.range })),
        currency === "USD" ? null : getJson(apiPath(coin, currency)),
        currency === "USD" ? null : getJson(apiPath(coin, "USD")),
      ]);
      if (asked !== this.asked || this.symbol === null) return;
      this.history = there === null
        ? history
        : convert(history, currency, there.price / here.price);
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
      : history.converted
      ? "Converted from USD at the current rate: the server keeps history in USD."
      : "";
    byId("chart-note").textContent = note;
    const plot = byId("chart-plot");
    const width = Math.max(280, Math.floor(plot.clientWidth || 600));
    plot.replaceChildren(
      lineChart(points, {
        width,
        height: Math.round(Math.min(260, Math.max(170, width * 0.45))),
        span: SPANS[history.range],
        label: money,
        trend: signClass(history.change_pct),
        title: `${upstream(history.symbol)} over ${upstream(history.range)}`,
      }),
    );
  }
}

/**
 * A USD history in `currency` at `rate` (its price over the USD price).
 *
 * @param {any} history
 * @param {string} currency
 * @param {number} rate
 */
function convert(history, currency, rate) {
  const times = (/** @type {unknown} */ v) => typeof v === "number" ? v * rate : null;
  return {
    ...history,
    currency,
    converted: true,
    points: (history.points ?? []).map((/** @type {[string, number]} */ [t, p]) => [t, p * rate]),
    first: times(history.first),
    last: times(history.last),
    min: times(history.min),
    max: times(history.max),
  };
}

/**
 * @typedef {object} ChartOptions
 * @property {number} width
 * @property {number} height
 * @property {number | undefined} span  the window in ms, ending at the last point
 * @property {(price: number) => string} label
 * @property {string} trend  "up", "down" or ""
 * @property {string} title
 */

/**
 * An SVG line chart of `[ISO time, price]` points, oldest first.
 *
 * @param {[string, number][]} points
 * @param {ChartOptions} options
 * @returns {SVGElement}
 */
export function lineChart(points, options) {
  const { width, height } = options;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.append(svg("title"));
  chart.firstChild.textContent = options.title;
  const series = points.map(([t, p]) => [Date.parse(t), p])
    .filter(([t, p]) => Number.isFinite(t) && Number.isFinite(p));
  if (series.length === 0) return chart;
  const last = series[series.length - 1][0];
  const from = options.span === undefined ? series[0][0] : last - options.span;
  const to = Math.max(last, from + 1);
  const prices = series.map(([, p]) => p);
  const ticks = priceTicks(Math.min(...prices), Math.max(...prices));
  const labels = ticks.map(options.label);
  const left = 8 + 6.5 * Math.max(...labels.map((l) => l.length));
  const box = { left, right: width - 10, top: 10, bottom: height - 24 };
  const low = ticks[0];
  const high = ticks[ticks.length - 1];
  const x = (/** @type {number} */ t) =>
    box.left + (t - from) / (to - from) * (box.right - box.left);
  const y = (/** @type {number} */ p) =>
    box.bottom - (p - low) / (high - low) * (box.bottom - box.top);
  ticks.forEach((tick, i) => {
    chart.append(
      svg("line", { class: "axis", x1: box.left, x2: box.right, y1: y(tick), y2: y(tick) }),
    );
    const text = svg("text", { x: box.left - 6, y: y(tick) + 4, "text-anchor": "end" });
    text.textContent = labels[i];
    chart.append(text);
  });
  const times = timeTicks(from, to, width < 480 ? 3 : 4);
  for (const [i, t] of times.entries()) {
    const anchor = i === 0 ? "start" : i === times.length - 1 ? "end" : "middle";
    const text = svg("text", { x: x(t), y: height - 6, "text-anchor": anchor });
    text.textContent = timeLabel(t, to - from);
    chart.append(text);
  }
  const coords = series.map(([t, p]) => `${x(t).toFixed(1)},${y(p).toFixed(1)}`);
  chart.append(svg("polyline", { class: `line ${options.trend}`, points: coords.join(" ") }));
  // The latest price, which a line of one point (or of points close together) would not show.
  const [t, p] = series[series.length - 1];
  chart.append(svg("circle", { class: `dot ${options.trend}`, cx: x(t), cy: y(p), r: 3.5 }));
  return chart;
}

/**
 * Round prices from below `min` to above `max`, 3 to 6 of them.
 *
 * @param {number} min
 * @param {number} max
 * @returns {number[]}
 */
function priceTicks(min, max) {
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.005;
    [min, max] = [min - pad, max + pad];
  }
  const rough = (max - min) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v < max + step; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return ticks;
}

/**
 * `count` times spread over the window, its ends included.
 *
 * @param {number} from
 * @param {number} to
 * @param {number} count
 */
function timeTicks(from, to, count) {
  return Array.from({ length: count }, (_, i) => from + (to - from) * i / (count - 1));
}

/**
 * A time on the axis, in the reader's time zone: the hour for an hour, with the weekday for a
 * day (both ends are the same hour), else the date.
 *
 * @param {number} ms
 * @param {number} span
 */
function timeLabel(ms, span) {
  const date = new Date(ms);
  if (span <= 3_600_000) return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (span <= 86_400_000) {
    return date.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  }
  return date.toLocaleDateString([], { month: "short", day: "numeric" });
}
