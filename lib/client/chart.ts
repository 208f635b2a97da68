/**
 * A line chart of a price series in braille characters (2 × 4 dots per cell): a price axis on
 * the left, a time axis below, sized to the terminal. Where the series has a gap (no prices for
 * much longer than usual), the line has one too.
 *
 * @module
 */

/** Options of {@linkcode lineChart}. */
export interface ChartOptions {
  /**
   * Columns of the whole chart, axis labels included; no line is wider (from 2 columns). Too
   * narrow for the price labels and a few cells of plot, the labels go; too narrow for both ends
   * of the time axis, only the last is written, or none.
   */
  width: number;
  /** Rows of the plot, without the time axis; default 8. */
  height?: number;
  /** The window shown, oldest first, in ms since the epoch; default the series' own span. */
  from?: number;
  to?: number;
  /**
   * Prices the price axis spans at least, e.g. the low and high of every stored price when the
   * series is a thinned sample of them: the axis then agrees with them.
   */
  low?: number;
  high?: number;
  /** Writes a price for the axis, e.g. `$20,220.00`. */
  label: (price: number) => string;
  /** Writes a time for the axis. */
  time: (ms: number) => string;
}

/** Dot bits of a braille cell by row (0-3) and column (0-1). */
const DOTS = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
const BRAILLE = 0x2800;

/**
 * Draws `points` (`[ISO time, price]`, oldest first) as lines of text without a trailing newline.
 * Two neighbouring points are joined unless they lie more than three times the median interval
 * apart: that is a gap, and stays one.
 */
export function lineChart(points: readonly [string, number][], options: ChartOptions): string[] {
  const series = points
    .map(([time, price]) => [Date.parse(time), price] as const)
    .filter(([t, p]) => Number.isFinite(t) && Number.isFinite(p));
  if (series.length === 0) return [];
  const rows = Math.max(2, options.height ?? 8);
  const bounds = [options.low, options.high].filter((p) => p !== undefined && Number.isFinite(p));
  const min = Math.min(...series.map(([, p]) => p), ...bounds as number[]);
  const max = Math.max(...series.map(([, p]) => p), ...bounds as number[]);
  const width = Math.max(2, Math.floor(options.width));
  let labels = [options.label(max), options.label((min + max) / 2), options.label(min)];
  const labelWidth = Math.max(...labels.map((l) => l.length));
  // Too narrow for the price axis and at least MIN_PLOT cells: the plot goes without labels.
  if (width - labelWidth - 2 < MIN_PLOT) labels = [];
  // What stands left of the axis line: the labels padded to one width and a space, or nothing.
  const gutter = labels.length === 0 ? 0 : labelWidth + 1;
  const cols = width - gutter - 1;
  const from = options.from ?? series[0][0];
  const to = Math.max(options.to ?? series.at(-1)![0], from + 1);
  const dotsX = cols * 2;
  const dotsY = rows * 4;
  const grid = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  const xOf = (t: number) => Math.round(((t - from) / (to - from)) * (dotsX - 1));
  const yOf = (p: number) =>
    max === min ? Math.floor(dotsY / 2) : Math.round(((max - p) / (max - min)) * (dotsY - 1));
  const plot = (x: number, y: number) => {
    if (x < 0 || x >= dotsX || y < 0 || y >= dotsY) return;
    grid[Math.floor(y / 4)][Math.floor(x / 2)] |= DOTS[y % 4][x % 2];
  };
  const intervals = series.slice(1).map(([t], i) => t - series[i][0]).sort((a, b) => a - b);
  const gapAfter = intervals.length === 0 ? Infinity : 3 * intervals[intervals.length >> 1];
  for (let i = 0; i < series.length; i++) {
    const [t, p] = series[i];
    const x = xOf(t);
    const y = yOf(p);
    plot(x, y);
    const next = series[i + 1];
    if (next === undefined || next[0] - t > gapAfter) continue;
    // A straight line of dots to the next point.
    const x2 = xOf(next[0]);
    const y2 = yOf(next[1]);
    const steps = Math.max(Math.abs(x2 - x), Math.abs(y2 - y));
    for (let s = 1; s < steps; s++) {
      plot(Math.round(x + ((x2 - x) * s) / steps), Math.round(y + ((y2 - y) * s) / steps));
    }
  }
  const axisLabel = (row: number) => {
    if (gutter === 0) return "";
    const label = row === 0
      ? labels[0]
      : row === rows - 1
      ? labels[2]
      : row === rows >> 1
      ? labels[1]
      : "";
    return `${label.padStart(labelWidth)} `;
  };
  const lines = grid.map((cells, row) =>
    `${axisLabel(row)}┤${cells.map((bits) => String.fromCharCode(BRAILLE + bits)).join("")}`
  );
  lines.push(`${" ".repeat(gutter)}└${"─".repeat(cols)}`);
  // Both ends of the time axis, or only the last when both do not fit, or none.
  const start = options.time(from);
  const end = `${options.time(to)} UTC`;
  const axis = start.length + 1 + end.length <= cols
    ? `${start}${" ".repeat(cols - start.length - end.length)}${end}`
    : end.length <= cols
    ? end.padStart(cols)
    : "";
  if (axis !== "") lines.push(`${" ".repeat(gutter + 1)}${axis}`);
  return lines;
}

/** The fewest braille cells a plot keeps next to its price axis; narrower, the axis goes. */
const MIN_PLOT = 8;
