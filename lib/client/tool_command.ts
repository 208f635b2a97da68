/**
 * The commands that keep state or run long beside the price commands: `portfolio`, `alert` and
 * `candles`. Each parses its own words and flags into something that runs with the CLI's I/O.
 *
 * @module
 */

import type { PriceClient } from "./price_client.ts";
import type { OutputFormat } from "./commands.ts";
import type { Interrupt } from "./watch_command.ts";
import { parsePortfolioCommand } from "./portfolio_command.ts";
import { parseAlertCommand } from "./alert_command.ts";
import { parseCandlesCommand } from "./candles_command.ts";

/** What these commands need of the process; the CLI's `CliIO` has it. */
export interface ToolIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: (name: string) => string | undefined;
  color: boolean;
  stdoutIsTerminal?: boolean;
  columns?: () => number;
  rows?: () => number;
  interrupts?: () => Interrupt;
  onResize?: (listener: () => void) => Disposable;
  now?: () => Date;
}

/** Where a command runs. */
export interface ToolContext {
  io: ToolIO;
  /** Opens a connection (the command closes it). */
  connect: () => Promise<PriceClient>;
  /** Upper case; undefined for USD. */
  currency: string | undefined;
  format: OutputFormat;
}

/** A parsed command; `run` returns the exit code. */
export interface ToolCommand {
  run(ctx: ToolContext): Promise<number>;
}

/** The flags these commands read (see `CLIENT_FLAGS`). */
export interface ToolFlags {
  portfolio?: string;
  price?: string;
  date?: string;
  watch: boolean;
  window: string;
  once: boolean;
  exec?: string;
}

/** The command names handled here. */
export const TOOL_COMMANDS: readonly string[] = ["portfolio", "alert", "candles"];

/**
 * Parses `name rest...` with `flags` into a command.
 *
 * @throws {UsageError} for wrong arguments
 */
export function parseToolCommand(
  name: string,
  rest: readonly string[],
  flags: ToolFlags,
  format: OutputFormat,
): ToolCommand {
  switch (name) {
    case "alert":
      return parseAlertCommand(rest, flags, format);
    case "candles":
      return parseCandlesCommand(rest, format);
    default:
      return parsePortfolioCommand(rest, flags, format);
  }
}
