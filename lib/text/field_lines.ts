/**
 * A block of `Label  value` lines under a bold title, fitted to a width: how one coin, a history
 * summary or a report is shown.
 *
 * @module
 */

import { ANSI, paint } from "./ansi.ts";
import { displayWidth } from "./display_width.ts";
import { wrap } from "./wrap.ts";

/** Whether to colour, and the columns to fit in (none: no limit). */
export interface FieldOptions {
  /** Emit ANSI colour codes. */
  color: boolean;
  /** Terminal columns the lines must fit in. */
  width?: number;
  /** Cut a value's word longer than a line (see `wrap`); else it stays whole. */
  cutWords?: boolean;
}

/** A bold heading, wrapped at its spaces to `options.width`. */
export function titleLines(text: string, options: FieldOptions): string[] {
  return wrap(text, options.width).map((line) => paint(line, ANSI.bold, options.color));
}

/**
 * `  Label  value` lines, the labels padded to one width. With `options.width`, a value too
 * long wraps at its spaces, under itself; where that leaves it fewer than {@linkcode MIN_VALUE}
 * columns (a terminal below about 20), each value goes on the lines under its label instead.
 * Values must not hold spaces inside colour codes.
 */
export function fieldLines(
  fields: readonly [string, string][],
  options: FieldOptions,
): string[] {
  const { color, width } = options;
  const labelWidth = Math.max(...fields.map(([label]) => label.length));
  const indent = 2 + labelWidth + 2;
  if (width === undefined || width - indent >= MIN_VALUE) {
    return fields.flatMap(([label, value]) => {
      const [first, ...rest] = wrap(
        value,
        width === undefined ? undefined : width - indent,
        options.cutWords,
      );
      const name = paint(label.padEnd(labelWidth), ANSI.dim, color);
      return [`  ${name}  ${first}`, ...rest.map((line) => " ".repeat(indent) + line)];
    });
  }
  // Values under their labels, indented when every one of them still fits.
  const values = fields.map(([, value]) => wrap(value, width - 2, options.cutWords));
  const fits = values.flat().every((line) => 2 + displayWidth(line) <= width);
  return fields.flatMap(([label], i) => [
    paint(label, ANSI.dim, color),
    ...values[i].map((line) => (fits ? "  " : "") + line),
  ]);
}

/** The fewest columns a value keeps beside its label; narrower, it goes under the label. */
const MIN_VALUE = 12;
