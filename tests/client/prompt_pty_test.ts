/**
 * The interactive prompt through a real pseudo-terminal: the client runs in tmux, keys are sent
 * with `tmux send-keys` and the screen is read with `tmux capture-pane`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startTestService } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function hasTmux(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("tmux", { args: ["-V"], stdout: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

const tmuxFound = await hasTmux();

/** A tmux server of its own, so the test never touches the user's sessions. */
function tmux(socket: string) {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("tmux", { args: ["-L", socket, ...args] }).output();
    return new TextDecoder().decode(out.stdout);
  };
  const screen = () => run("capture-pane", "-p", "-t", "client");
  return {
    run,
    screen,
    keys: (...keys: string[]) => run("send-keys", "-t", "client", ...keys),
    /** Polls the screen until `test` holds; the deadline only guards against a hang. */
    async waitFor(test: (screen: string) => boolean, what: string, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < deadline) {
        last = await screen();
        if (test(last)) return last;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`The screen never showed ${what}:\n${last}`);
    },
  };
}

Deno.test({
  name: "the prompt on a terminal: arrow-up recalls, Tab completes, help, Ctrl-C exits cleanly" +
    (tmuxFound ? "" : " (ignored: tmux is not installed; apt-get install tmux)"),
  ignore: !tmuxFound,
  async fn() {
    await using env = await startTestService();
    const t = tmux(`crypto-test-${crypto.randomUUID()}`);
    // The task itself, so its narrow permissions are what the prompt runs with.
    const command = `NO_COLOR=1 ${Deno.execPath()} task -q client --port ${env.port}; ` +
      `echo "EXIT=$?"; sleep 30`;
    await t.run("new-session", "-d", "-s", "client", "-x", "100", "-y", "50", "-c", ROOT, command);
    try {
      await t.waitFor((s) => s.includes("Choice:"), "the first prompt");
      await t.keys("price btc", "Enter");
      await t.waitFor((s) => s.includes("Bitcoin (BTC)"), "the coin");
      // Arrow-up brings the last line back; Enter runs it again.
      await t.keys("Up");
      await t.waitFor((s) => /Choice: price btc\s*$/.test(s), "the recalled line");
      await t.keys("Enter");
      await t.waitFor((s) => s.split("Bitcoin (BTC)").length === 3, "the coin a second time");
      // Tab completes a command word, then a symbol the server serves.
      await t.keys("hist", "Tab");
      await t.waitFor((s) => /Choice: history\s*$/.test(s), "the completed command");
      await t.keys("et", "Tab");
      await t.waitFor((s) => /Choice: history eth\s*$/.test(s), "the completed symbol");
      await t.keys("Enter");
      await t.waitFor((s) => s.includes("ETH over the last 24h (USD)"), "the history");
      await t.keys("currency eu", "Tab");
      await t.waitFor((s) => /Choice: currency eur\s*$/.test(s), "the completed currency");
      await t.keys("Enter");
      await t.waitFor((s) => s.includes("Prices are now shown in EUR"), "the new currency");
      // A completed word is followed by a space: pr<Tab>b is "price b", not "priceb".
      await t.keys("pr", "Tab");
      await t.waitFor((s) => /Choice: price\s*$/.test(s), "the completed word");
      await t.keys("b");
      await t.waitFor((s) => /Choice: price b\s*$/.test(s), "a space after the completed word");
      await t.keys("C-u");
      await t.keys("help", "Enter");
      await t.waitFor((s) => s.includes("Type a command, or its number:"), "the help");
      await t.keys("C-c");
      const end = await t.waitFor((s) => s.includes("EXIT="), "the exit");
      assert.match(end, /\nEXIT=0/, "Ctrl-C ends the prompt on a fresh line, exit 0");
      assert.doesNotMatch(end, /\^\[\[A/, "no raw escape sequence echoed");
    } finally {
      await t.run("kill-server");
    }
  },
});

Deno.test({
  name: "watch on a 40-column terminal: no line wraps; Ctrl-C leaves a fresh line, exit 0" +
    (tmuxFound ? "" : " (ignored: tmux is not installed; apt-get install tmux)"),
  ignore: !tmuxFound,
  async fn() {
    await using env = await startTestService();
    const t = tmux(`crypto-test-${crypto.randomUUID()}`);
    // Run directly, not as a task: the task runner may die of the Ctrl-C too and exit 130.
    const command = `NO_COLOR=1 ${Deno.execPath()} run -q --allow-net --allow-read --allow-env ` +
      `client.ts --port ${env.port} watch btc eth; echo "EXIT=$?"; sleep 30`;
    await t.run("new-session", "-d", "-s", "client", "-x", "40", "-y", "20", "-c", ROOT, command);
    try {
      await t.waitFor((s) => s.includes("Waiting for updates"), "the watch table");
      // Joined as the program wrote them: a line the terminal wrapped comes back whole.
      const joined = await t.run("capture-pane", "-p", "-J", "-t", "client");
      for (const line of joined.split("\n")) {
        assert.ok(line.length <= 40, `${line.length} columns: ${line}\n${joined}`);
      }
      await t.keys("C-c");
      const end = await t.waitFor((s) => s.includes("EXIT="), "the exit");
      assert.match(
        end,
        /^EXIT=0$/m,
        `Ctrl-C stops the watch, the shell goes on on a fresh line:\n${end}`,
      );
    } finally {
      await t.run("kill-server");
    }
  },
});
