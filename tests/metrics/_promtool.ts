/**
 * `promtool check metrics` on a scrape, for tests: the Debian `prometheus` package's linter of
 * the text format and its naming conventions.
 *
 * @module
 */

import { commandWorks, runWithInput } from "../helpers.ts";

/** Whether promtool is installed; tests that need it are ignored, saying so, when it is not. */
export const HAS_PROMTOOL = await commandWorks("promtool", ["--version"]);

/** promtool's findings on `text` (empty when it finds nothing) and its exit code. */
export async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  const { code, out, err } = await runWithInput("promtool", ["check", "metrics"], text);
  return { code, output: (out + err).trim() };
}

/** The value of one series in a scrape, by its name with labels as rendered. */
export function seriesValue(text: string, series: string): number | undefined {
  const line = text.split("\n").find((line) => line.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

if (!HAS_PROMTOOL) {
  console.log("promtool is missing (Debian package prometheus): its checks are ignored");
}
