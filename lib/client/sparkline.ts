/**
 * Sparklines: a series of numbers drawn as one line of block characters, `▁▂▃▄▅▆▇█`.
 *
 * @module
 */

/** The eight bar heights, lowest first. */
export const BARS = "▁▂▃▄▅▆▇█";

/**
 * Draws `values` as at most `width` bars scaled from their minimum (`▁`) to their maximum (`█`).
 * A longer series is averaged into `width` equal buckets, so the line keeps the series' shape;
 * a shorter one gets one bar per value. A flat series, including a single value, is drawn at
 * mid height (`▄`), as it shows neither a low nor a high. Values that are not finite numbers
 * are drawn as a space. An empty series gives an empty string.
 *
 * @throws {RangeError} when `width` is not a positive integer
 */
export function sparkline(values: readonly number[], width: number): string {
  if (!Number.isInteger(width) || width < 1) {
    throw new RangeError(`Sparkline width must be a positive integer, got ${width}`);
  }
  const series = values.length > width ? buckets(values, width) : values;
  const finite = series.filter(Number.isFinite);
  if (finite.length === 0) return " ".repeat(series.length);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const top = BARS.length - 1;
  return series.map((v) => {
    if (!Number.isFinite(v)) return " ";
    if (max === min) return BARS[3];
    return BARS[Math.round(((v - min) / (max - min)) * top)];
  }).join("");
}

/** The means of `count` consecutive, nearly equal slices of `values` (non-finite ones skipped). */
function buckets(values: readonly number[], count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const from = Math.floor((i * values.length) / count);
    const to = Math.floor(((i + 1) * values.length) / count);
    let sum = 0;
    let n = 0;
    for (let j = from; j < to; j++) {
      if (Number.isFinite(values[j])) {
        sum += values[j];
        n++;
      }
    }
    out.push(n === 0 ? NaN : sum / n);
  }
  return out;
}
