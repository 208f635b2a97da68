/**
 * `candles SYMBOL INTERVAL [RANGE]`: a coin's candles from the server's stored history, drawn to
 * fit the terminal, or as JSON or CSV.
 *
 * @module
 */

import { UsageError } from "../util/usage_error.ts";
import {
  CANDLE_INTERVALS,
  CANDLE_MAX_RANGE,
  type CandleInterval,
  candleRangeAllowed,
  type CandlesView,
  isCandleInterval,
  isCandlesView,
} from "../wire/candles.ts";
import type { HistoryRange } from "../wire/history_range.ts";
import { safeJson, safeText } from "../text/safe_text.ts";
import { drawCandles } from "./candle_chart.ts";
import { checkRange, checkSymbol, type OutputFormat } from "./commands.ts";
import { currencyUnit } from "./currency.ts";
import { ConnectionError, type PriceClient, ServerError } from "./price_client.ts";
import type { ToolCommand, ToolContext } from "./tool_command.ts";

interface CandlesAsk {
  symbol: string;
  interval: CandleInterval;
  /** Undefined for the server's default for the interval. */
  range?: HistoryRange;
}

/**
 * Parses the words after `candles`.
 *
 * @throws {UsageError} for a wrong symbol, interval or range
 */
export function parseCandlesCommand(rest: readonly string[], format: OutputFormat): ToolCommand {
  if (rest.length < 2 || rest.length > 3) {
    throw new UsageError(
      "candles needs a coin and an interval, e.g. candles BTC 1h or candles BTC 15m 24h",
    );
  }
  const interval = rest[1].toLowerCase();
  if (!isCandleInterval(interval)) {
    throw new UsageError(
      `"${safeText(rest[1])}" is not a candle interval; use ${CANDLE_INTERVALS.join(", ")}`,
    );
  }
  if (rest[2] !== undefined && !candleRangeAllowed(interval, checkRange(rest[2]))) {
    throw new UsageError(
      `${interval} candles cover at most ${CANDLE_MAX_RANGE[interval]}; use a longer interval ` +
        `for ${checkRange(rest[2])}`,
    );
  }
  const ask: CandlesAsk = {
    symbol: checkSymbol(rest[0]).toUpperCase(),
    interval,
    ...(rest[2] === undefined ? {} : { range: checkRange(rest[2]) }),
  };
  return { run: (ctx) => runCandles(ctx, ask, format) };
}

/** Asks the server for candles (`CANDLES`, v2). */
async function fetchCandles(
  client: PriceClient,
  ask: CandlesAsk,
  currency: string | undefined,
): Promise<CandlesView> {
  const words = ["CANDLES", ask.symbol, ask.interval, ask.range ?? "", currency ?? ""];
  const reply = await client.request({ status: "OK", v: 2, data: words.filter(Boolean).join(" ") });
  if (reply.status === "ERROR") throw new ServerError(reply.code, reply.data);
  if (!isCandlesView(reply.data)) {
    throw new ConnectionError(`unexpected reply from ${client.address}: expected candles`);
  }
  return reply.data;
}

async function runCandles(
  ctx: ToolContext,
  ask: CandlesAsk,
  format: OutputFormat,
): Promise<number> {
  const { io } = ctx;
  await using client = await ctx.connect();
  const view = await fetchCandles(client, ask, ctx.currency);
  if (format === "json") {
    io.stdout(safeJson(view) + "\n");
  } else if (format === "csv") {
    io.stdout(candlesCsv(view));
  } else {
    const unit = ctx.currency === undefined ? undefined : await currencyUnit(client, ctx.currency);
    const width = io.columns?.() ?? 80;
    io.stdout(drawCandles(view, { width, color: io.color, unit }) + "\n");
  }
  return 0;
}

/** Candles as CSV with a header row; a gap has a count of 0 and empty prices. */
function candlesCsv(view: CandlesView): string {
  const field = (v: number | null) => v === null ? "" : String(v);
  return [
    "time,open,high,low,close,count,currency",
    ...view.candles.map((c) =>
      [
        c.time,
        field(c.open),
        field(c.high),
        field(c.low),
        field(c.close),
        String(c.count),
        safeText(view.currency),
      ]
        .join(",")
    ),
  ].join("\n") + "\n";
}
