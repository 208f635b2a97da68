/**
 * A tiny metrics registry and the Prometheus text exposition format, version 0.0.4. Most of the
 * server's metrics are gathered at scrape time from counters that already exist (see
 * `price_metrics.ts`), so a family is usually a function returning its samples; {@linkcode
 * Counter} and {@linkcode Gauge} hold values for the rest.
 *
 * @module
 */

/** The content type of the text format this module writes. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The metric types the registry writes. */
export type MetricType = "counter" | "gauge";

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One value of a metric family, with its labels. */
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly collect: () => Iterable<Sample>;
}

/** A counter by label values: only goes up. */
export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  /** Adds `by` (at least 0) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Cannot add ${by} to a counter: expected a number >= 0`);
    const key = labelKey(labels);
    const entry = this.#values.get(key);
    if (entry === undefined) this.#values.set(key, { labels: { ...labels }, value: by });
    else entry.value += by;
  }

  /** The series, for the registry. */
  samples(): Sample[] {
    return [...this.#values.values()];
  }
}

/** A gauge by label values: set to the current value. */
export class Gauge {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  /** Sets the series with `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.#values.set(labelKey(labels), { labels: { ...labels }, value });
  }

  /** The series, for the registry. */
  samples(): Sample[] {
    return [...this.#values.values()];
  }
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Metric families in the order they were registered, rendered in the text format. */
export class MetricRegistry {
  readonly #families = new Map<string, Family>();

  /**
   * Registers a family whose samples `collect` gathers at each scrape.
   *
   * @throws {RangeError} on an invalid or duplicate name
   */
  collect(name: string, help: string, type: MetricType, collect: () => Iterable<Sample>): void {
    if (!METRIC_NAME.test(name)) {
      throw new RangeError(
        `Invalid metric name ${JSON.stringify(name)}: expected [a-zA-Z_:][a-zA-Z0-9_:]*`,
      );
    }
    if (this.#families.has(name)) throw new RangeError(`Metric ${name} is registered twice`);
    this.#families.set(name, { name, help, type, collect });
  }

  /** Registers and returns a {@linkcode Counter}. */
  counter(name: string, help: string): Counter {
    const counter = new Counter();
    this.collect(name, help, "counter", () => counter.samples());
    return counter;
  }

  /** Registers and returns a {@linkcode Gauge}. */
  gauge(name: string, help: string): Gauge {
    const gauge = new Gauge();
    this.collect(name, help, "gauge", () => gauge.samples());
    return gauge;
  }

  /** Every family in the text exposition format 0.0.4, ending in a newline. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families.values()) renderFamily(family, lines);
    return lines.length === 0 ? "" : lines.join("\n") + "\n";
  }
}

function renderFamily(family: Family, lines: string[]): void {
  lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
  lines.push(`# TYPE ${family.name} ${family.type}`);
  for (const sample of family.collect()) {
    lines.push(`${family.name}${renderLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
}

function renderLabels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new RangeError(
        `Invalid label name ${JSON.stringify(name)}: expected [a-zA-Z_][a-zA-Z0-9_]*`,
      );
    }
    parts.push(`${name}="${escapeLabelValue(value)}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** Help text as the text format wants it: backslash and newline escaped. */
export function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** A sample value: Go's float syntax, with `NaN`, `+Inf` and `-Inf`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
