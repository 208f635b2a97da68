/**
 * An alert and a live portfolio on a real terminal: the client runs in a tmux pane whose raw
 * output bytes are copied to a file (`pipe-pane`), so the bell and the colour codes are seen as the
 * terminal got them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { commandWorks, startTestService, type TestService } from "../helpers.ts";
import { formatPortfolio } from "../../lib/client/portfolio_file.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = new URL("../testdata/coingecko_markets_usd_2022-10-04.json", import.meta.url);
const tmuxFound = await commandWorks("tmux", ["-V"]);

/** Runs `command` in a pane of a tmux server of its own; resolves to what the pane was sent. */
async function inPane(dir: string, command: string) {
  const socket = `crypto-test-${crypto.randomUUID()}`;
  const tmux = (...args: string[]) =>
    new Deno.Command("tmux", { args: ["-L", socket, ...args] }).output();
  const raw = `${dir}/pane.raw`;
  await Deno.writeTextFile(raw, "");
  await tmux(
    "new-session",
    "-d",
    "-s",
    "t",
    "-x",
    "100",
    "-y",
    "30",
    "-c",
    ROOT,
    `${command}; sleep 30`,
  );
  await tmux("pipe-pane", "-o", "-t", "t", `cat >> ${raw}`);
  return {
    /** Waits until the raw output holds `text`; fails with what it holds after `ms`. */
    async waitFor(text: string, ms = 20_000): Promise<string> {
      const deadline = Date.now() + ms;
      let seen = "";
      while (Date.now() < deadline) {
        seen = await Deno.readTextFile(raw);
        if (seen.includes(text)) return seen;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`The terminal never got ${JSON.stringify(text)}:\n${JSON.stringify(seen)}`);
    },
    async [Symbol.asyncDispose]() {
      await tmux("kill-server");
    },
  };
}

async function ingestBtc(env: TestService, price: number): Promise<void> {
  const recorded = JSON.parse(await Deno.readTextFile(FIXTURE));
  recorded[0].current_price = price;
  env.upstream.setCoins(recorded);
  await env.service.ingestor.runOnce();
}

Deno.test({
  name: "on a terminal an alert rings the bell with a highlighted line; a portfolio redraws" +
    (tmuxFound ? "" : " (ignored: tmux is not installed)"),
  ignore: !tmuxFound,
  async fn() {
    await using env = await startTestService();
    const client = `${Deno.execPath()} task -q client --port ${env.port}`;
    {
      await using pane = await inPane(env.dir, `${client} alert BTC above 25000`);
      await pane.waitFor("Alert when BTC above $25,000.00");
      await ingestBtc(env, 30000);
      const seen = await pane.waitFor("ALERT BTC above $25,000.00: $30,000.00\x1b[0m");
      // The bell, then the line in bold yellow, reversed.
      const bell = "\x07\x1b[1m\x1b[33m\x1b[7m";
      const line = seen.slice(seen.lastIndexOf("\x07"));
      assert.ok(line.startsWith(bell), JSON.stringify(line));
      assert.match(
        line.slice(bell.length),
        /^\d{4}-\d\d-\d\dT[\d:]+Z ALERT BTC above \$25,000\.00: \$30,000\.00/,
      );
    }
    {
      const path = `${env.dir}/portfolio.toml`;
      await Deno.writeTextFile(
        path,
        formatPortfolio([{ symbol: "BTC", amount: 2, price: 10000, currency: "USD" }]),
      );
      await using pane = await inPane(
        env.dir,
        `NO_COLOR=1 ${client} --portfolio ${path} portfolio --watch`,
      );
      const first = await pane.waitFor("Total");
      assert.match(
        first,
        /BTC +2 +\$30,000\.00 +\$60,000\.00 +\$20,000\.00 +\+\$40,000\.00 +\+200\.00%/,
      );
      await ingestBtc(env, 35000);
      // Redrawn in place: the cursor goes back up over the table and clears it first.
      const redrawn = await pane.waitFor("+$50,000.00");
      assert.match(redrawn.slice(first.length).replaceAll("\x1b", "ESC"), /ESC\[\d+FESC\[J/);
    }
  },
});
