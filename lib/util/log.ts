/**
 * Log lines at a level: what the server prints, filtered by `--log-level`, optionally stamped
 * with the time and prefixed with a name (so replicas in one terminal can be told apart).
 *
 * @module
 */

/** The levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** How severe a log line is. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Writes one log line, at `level` (`info` when not said). */
export type Log = (line: string, level?: LogLevel) => void;

/** Options of {@linkcode createLog}. */
export interface LogOptions {
  /** The least severe level written. */
  level: LogLevel;
  /** Whether each line starts with its UTC time (ISO 8601). */
  timestamps: boolean;
  /** Put before each line with `: `, read at each line (it may be known only later); "" for none. */
  prefix?: () => string;
  /** Where a line goes; standard output when absent. */
  write?: (line: string) => void;
  now?: () => Date;
}

/** A {@linkcode Log} that writes the lines at `options.level` or more severe. */
export function createLog(options: LogOptions): Log {
  const most = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => console.log(line));
  const now = options.now ?? (() => new Date());
  return (line, level = "info") => {
    if (LOG_LEVELS.indexOf(level) > most) return;
    const prefix = options.prefix?.() ?? "";
    const stamp = options.timestamps ? `${now().toISOString()} ` : "";
    write(`${stamp}${prefix === "" ? "" : `${prefix}: `}${line}`);
  };
}
