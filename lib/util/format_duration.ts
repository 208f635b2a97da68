/**
 * Durations for people, in the two forms the programs print.
 *
 * @module
 */

/** Options of {@linkcode formatDuration}. */
export interface DurationOptions {
  /**
   * The log form, precise below a minute and with spaced units: `850 ms`, `4.2 s`, `5 min`,
   * `2 min 30 s`. Without it, the compact form of the client's tables: `45s`, `12m 5s`,
   * `3h 20m`, `2d 4h`.
   */
  precise?: boolean;
}

/** A duration for a person; `—` for a value that is not finite. */
export function formatDuration(ms: number, options: DurationOptions = {}): string {
  if (!Number.isFinite(ms)) return "—";
  if (options.precise) {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
    const minutes = Math.floor(ms / 60_000);
    const seconds = Math.round((ms % 60_000) / 1000);
    return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  }
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
