/**
 * The arithmetic behind the bench's figures, kept apart from the scripts that run on import so
 * that it can be tested.
 *
 * @module
 */

/** The median of a list of numbers (the lower middle one for an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * One figure's ratio to the floor's, round by round: `runs[i]` was measured in the same round as
 * `floorRuns[i]`, back to back, so a slow spell of the machine moves only that round's ratio.
 */
export function ratiosByRound<T>(
  runs: readonly T[],
  floorRuns: readonly T[],
  pick: (run: T) => number,
): number[] {
  return runs.map((run, i) => pick(run) / pick(floorRuns[i]));
}

/** Whether some rounds meet a bound and some do not: one run alone does not settle it then. */
export function splitByBound(ratios: readonly number[], meets: (r: number) => boolean): boolean {
  return ratios.some(meets) && !ratios.every(meets);
}
