/**
 * `alert SYMBOL above|below PRICE` and `alert SYMBOL change PERCENT%`: the condition evaluated on
 * each price of the live `WATCH` stream (through the watch view, which reconnects), a line per
 * firing (with a bell and highlighted on a terminal), `--once` to exit when it fires, and
 * `--exec` to run a command with the alert in its environment.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import type { CoinView } from "../wire/coin_view.ts";
import { ANSI } from "../text/ansi.ts";
import { formatMoney } from "../text/format_money.ts";
import { safeJson } from "../text/safe_text.ts";
import {
  type AlertCondition,
  type AlertFiring,
  AlertState,
  describeCondition,
  parseCondition,
  parseWindow,
} from "./alert.ts";
import { checkSymbol, type OutputFormat, reportError } from "./commands.ts";
import { currencyUnit } from "./currency.ts";
import { splitCommand } from "./split_command.ts";
import type { ToolCommand, ToolContext, ToolFlags } from "./tool_command.ts";
import { watchCommand } from "./watch_command.ts";

interface Alert {
  symbol: string;
  condition: AlertCondition;
  once: boolean;
  /** The command of `--exec`, as words. */
  exec?: string[];
}

/**
 * Parses the words after `alert`.
 *
 * @throws {UsageError} for a wrong condition, window or `--exec`
 */
export function parseAlertCommand(
  rest: readonly string[],
  flags: ToolFlags,
  format: OutputFormat,
): ToolCommand {
  if (rest.length === 0) {
    throw new UsageError("alert needs a coin and a condition, e.g. alert BTC above 50000");
  }
  if (format === "csv") {
    throw new UsageError("--csv works with list, history, portfolio and candles");
  }
  const alert: Alert = {
    symbol: checkSymbol(rest[0]).toUpperCase(),
    condition: parseCondition(rest.slice(1), parseWindow(flags.window)),
    once: flags.once,
    ...(flags.exec === undefined ? {} : { exec: splitCommand(flags.exec) }),
  };
  return { run: (ctx) => runAlert(ctx, alert) };
}

/** Exit code of `--once` stopped (Ctrl-C) before the alert fired: not a success for `&&`. */
const NOT_FIRED = 130;

async function runAlert(ctx: ToolContext, alert: Alert): Promise<number> {
  const { io } = ctx;
  const currency = ctx.currency ?? "USD";
  const json = ctx.format === "json";
  const now = io.now ?? (() => new Date());
  const warn = (err: unknown) => reportError(err, json, io.stderr);
  const client = await ctx.connect();
  try {
    const unit = ctx.currency === undefined ? undefined : await currencyUnit(client, currency);
    const money = (n: number) => formatMoney(n, currency, { unit });
    const what = `${alert.symbol} ${describeCondition(alert.condition, money)}`;
    io.stderr(`Alert when ${what}${alert.once ? " (once)" : ""}; Ctrl-C to stop\n`);
    const state = new AlertState(alert.condition);
    const stop = new AbortController();
    let fired = 0;
    // Commands run one after another, in the order the alert fired.
    let running = Promise.resolve();
    const line = (coin: CoinView): string | undefined => {
      if (coin.symbol !== alert.symbol) return undefined;
      const time = now();
      const firing = state.observe(coin.price, time.getTime());
      if (firing === undefined || stop.signal.aborted) return undefined;
      fired++;
      const text = `${time.toISOString().replace(/\.\d{3}Z$/, "Z")} ALERT ${what}: ` +
        `${money(firing.price)}${changeText(firing, money)}`;
      const env = alertEnv(alert, firing, currency, time, text);
      if (alert.exec !== undefined) running = running.then(() => runExec(alert.exec!, env, warn));
      if (alert.once) running = running.then(() => stop.abort());
      if (json) return safeJson({ alert: fields(env) });
      return io.stdoutIsTerminal
        ? `\x07${
          io.color ? `${ANSI.bold}${ANSI.yellow}\x1b[7m${text}${ANSI.reset}` : `>>> ${text}`
        }`
        : text;
    };
    const last = await watchCommand({
      client,
      connect: ctx.connect,
      symbols: [alert.symbol],
      currency: ctx.currency,
      unit,
      stop,
      interrupts: io.interrupts,
      display: { write: io.stdout, warn, terminal: false, color: io.color, line, now },
    });
    if (last !== client) last.close();
    await running;
    return alert.once && fired === 0 ? NOT_FIRED : 0;
  } finally {
    client.close();
  }
}

function changeText(firing: AlertFiring, money: (n: number) => string): string {
  if (firing.change_pct === undefined) return "";
  const sign = firing.change_pct > 0 ? "+" : "";
  return ` (${sign}${firing.change_pct.toFixed(2)}% from ${money(firing.from!)})`;
}

/** The alert as `CRYPTO_ALERT_*` variables: plain numbers, never shell text. */
function alertEnv(
  alert: Alert,
  firing: AlertFiring,
  currency: string,
  time: Date,
  message: string,
): Record<string, string> {
  const c = alert.condition;
  return {
    CRYPTO_ALERT_SYMBOL: alert.symbol,
    CRYPTO_ALERT_PRICE: String(firing.price),
    CRYPTO_ALERT_CURRENCY: currency,
    CRYPTO_ALERT_CONDITION: c.kind,
    CRYPTO_ALERT_THRESHOLD: String(c.kind === "change" ? c.percent : c.threshold),
    ...(c.kind === "change"
      ? {
        CRYPTO_ALERT_WINDOW_SECONDS: String(c.windowMs / 1000),
        CRYPTO_ALERT_FROM: String(firing.from),
        CRYPTO_ALERT_CHANGE_PCT: String(firing.change_pct),
      }
      : {}),
    CRYPTO_ALERT_TIME: time.toISOString(),
    CRYPTO_ALERT_MESSAGE: message,
  };
}

/** `CRYPTO_ALERT_PRICE` -> `price`, for `--json`. */
function fields(env: Record<string, string>): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      const key = k.replace("CRYPTO_ALERT_", "").toLowerCase();
      return [key, /^-?\d/.test(v) && !key.endsWith("time") ? Number(v) : v];
    }),
  );
}

/** Runs `--exec`'s words with the alert added to the environment; reports a failure and goes on. */
async function runExec(
  words: readonly string[],
  env: Record<string, string>,
  warn: (err: unknown) => void,
): Promise<void> {
  try {
    const { code } = await new Deno.Command(words[0], {
      args: words.slice(1),
      env,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (code !== 0) warn(new Error(`--exec ${words[0]} exited with ${code}`));
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound ? "not found" : String(err);
    warn(new Error(`cannot run --exec ${words[0]}: ${reason}`));
  }
}
