/**
 * The charts of the history dialog: a line of prices or candles, drawn in SVG over the same
 * frame (a price axis of round prices and a time axis over the whole range), so switching
 * between them keeps the axes where the reader saw them.
 *
 * @module
 */

import { svg } from "./dom.js";

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
  const series = points.map(([t, p]) => [Date.parse(t), p])
    .filter(([t, p]) => Number.isFinite(t) && Number.isFinite(p));
  if (series.length === 0) return frame(options, 0, 0, []).chart;
  const last = series[series.length - 1][0];
  const from = options.span === undefined ? series[0][0] : last - options.span;
  const { chart, x, y } = frame(options, from, last, series.map(([, p]) => p));
  const coords = series.map(([t, p]) => `${x(t).toFixed(1)},${y(p).toFixed(1)}`);
  chart.append(svg("polyline", { class: `line ${options.trend}`, points: coords.join(" ") }));
  // The latest price, which a line of one point (or of points close together) would not show.
  const [t, p] = series[series.length - 1];
  chart.append(svg("circle", { class: `dot ${options.trend}`, cx: x(t), cy: y(p), r: 3.5 }));
  return chart;
}

/**
 * SVG candles, one `g.candle` per interval with prices: a wick from low to high and a body from
 * open to close. A rising candle (close at or above open) has a filled body and the class `up`,
 * a falling one a hollow body and `down`, so the fill tells them apart where colour cannot. A
 * gap (`count` 0) is left empty; the time axis covers every interval, gaps included.
 *
 * @param {any[]} candles  `{time, open, high, low, close, count}`, oldest first
 * @param {number} seconds  the interval's length
 * @param {ChartOptions} options
 * @returns {SVGElement}
 */
export function candleChart(candles, seconds, options) {
  const step = seconds * 1000;
  const shown = candles.filter((c) =>
    c.count > 0 && [c.open, c.high, c.low, c.close].every(Number.isFinite) &&
    Number.isFinite(Date.parse(c.time))
  );
  if (shown.length === 0) return frame(options, 0, 0, []).chart;
  const from = Date.parse(candles[0].time);
  const to = Date.parse(candles[candles.length - 1].time) + step;
  const prices = shown.flatMap((c) => [c.low, c.high]);
  const { chart, x, y } = frame(options, from, to, prices);
  const slot = x(from + step) - x(from);
  const body = Math.max(1, Math.min(12, slot * 0.7));
  for (const c of shown) {
    const rising = c.close >= c.open;
    const middle = x(Date.parse(c.time) + step / 2);
    const top = y(Math.max(c.open, c.close));
    const group = svg("g", { class: `candle ${rising ? "up" : "down"}` });
    const title = svg("title");
    title.textContent = `${new Date(c.time).toLocaleString()}: open ${options.label(c.open)}, ` +
      `high ${options.label(c.high)}, low ${options.label(c.low)}, close ${options.label(c.close)}`;
    group.append(
      title,
      svg("line", { class: "wick", x1: middle, x2: middle, y1: y(c.high), y2: y(c.low) }),
      svg("rect", {
        class: "body",
        x: (middle - body / 2).toFixed(1),
        y: top.toFixed(1),
        width: body.toFixed(1),
        // A candle that closed where it opened still shows a line.
        height: Math.max(1, y(Math.min(c.open, c.close)) - top).toFixed(1),
      }),
    );
    chart.append(group);
  }
  return chart;
}

/**
 * An SVG with its title, price axis over `prices` and time axis from `from` to `to`, and the
 * functions placing a time and a price in it (none drawn when there are no prices).
 *
 * @param {ChartOptions} options
 * @param {number} from
 * @param {number} to
 * @param {number[]} prices
 */
function frame(options, from, to, prices) {
  const { width, height } = options;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.append(svg("title"));
  chart.firstChild.textContent = options.title;
  to = Math.max(to, from + 1);
  const ticks = prices.length === 0 ? [0, 1] : priceTicks(Math.min(...prices), Math.max(...prices));
  const labels = ticks.map(options.label);
  const left = 8 + 6.5 * Math.max(...labels.map((l) => l.length));
  const box = { left, right: width - 10, top: 10, bottom: height - 24 };
  const low = ticks[0];
  const high = ticks[ticks.length - 1];
  const x = (/** @type {number} */ t) =>
    box.left + (t - from) / (to - from) * (box.right - box.left);
  const y = (/** @type {number} */ p) =>
    box.bottom - (p - low) / (high - low) * (box.bottom - box.top);
  if (prices.length === 0) return { chart, x, y };
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
  return { chart, x, y };
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
