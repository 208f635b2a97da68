/**
 * The prompt's items: one table drives the menu text, `help`, completion and dispatch, and says
 * how a numbered choice asks for what it needs.
 *
 * @module
 */

import { HISTORY_RANGES } from "../wire/history_range.ts";
import { isSymbol } from "../wire/request.ts";
import { checkRange, checkWatchList, errorMessage } from "./commands.ts";
import { safeText } from "../text/safe_text.ts";

/** How the currency is asked for. */
export const CURRENCY_PROMPT = "Currency code (e.g. EUR, VND; ? lists them): ";

/** The state a menu item works with. */
export interface Session {
  ask(prompt: string): Promise<string | null>;
  /** Whether the server serves `symbol`; reports it when not. */
  known(symbol: string): Promise<boolean>;
  writeError(s: string): void;
  currency: string;
  /** The unit of `currency`, once checked with the server. */
  unit: string | undefined;
}

/** What a numbered choice asked for: the words after the command word, or why there are none. */
export type Asked = string[] | "back" | "end";

/** One entry of the menu: its number, its command word and how a number asks for arguments. */
export interface MenuItem {
  key: string;
  word: string;
  label: string;
  /** The command line form, for `help`. */
  usage: string;
  /** Asks for the arguments when chosen by number or typed without them. */
  ask?: (session: Session) => Promise<Asked>;
}

export const MENU: readonly MenuItem[] = [
  { key: "1", word: "list", label: "List all coins", usage: "list" },
  {
    key: "2",
    word: "price",
    label: "Look up a coin",
    usage: "price SYMBOL...",
    ask: askSymbol,
  },
  {
    key: "3",
    word: "history",
    label: "Price history of a coin",
    usage: `history SYMBOL [${HISTORY_RANGES.join("|")}]`,
    ask: async (s) => {
      const asked = await askSymbol(s);
      if (!Array.isArray(asked)) return asked;
      const [symbol] = asked;
      // The symbol is checked before the range is asked, and kept while that is asked again.
      if (!await s.known(symbol)) return "back";
      for (;;) {
        const answer = await s.ask(`Range (${HISTORY_RANGES.join(", ")}; Enter for 24h): `);
        if (answer === null) return "end";
        try {
          return [symbol, checkRange(answer || "24h")];
        } catch (err) {
          s.writeError(`${errorMessage(err)}\n`);
        }
      }
    },
  },
  {
    key: "4",
    word: "watch",
    label: "Watch coins live",
    usage: "watch SYMBOL...",
    ask: (s) =>
      askWith(s, "Symbols to watch (e.g. BTC ETH): ", (answer) => {
        const words = answer.split(/[\s,]+/).filter(Boolean);
        try {
          checkWatchList(words);
          return words;
        } catch (err) {
          s.writeError(`${errorMessage(err)}\n`);
          return "back";
        }
      }),
  },
  {
    key: "5",
    word: "currency",
    label: "Choose the currency",
    usage: "currency CODE",
    ask: (s) => askWith(s, CURRENCY_PROMPT, (a) => [a]),
  },
  { key: "6", word: "info", label: "Server info", usage: "info" },
  { key: "0", word: "quit", label: "Exit", usage: "quit" },
];

/** Other words the prompt knows, beside the items' own. */
export const ALIASES: Readonly<Record<string, string>> = { q: "quit", exit: "quit", "?": "help" };
export const EXTRA_WORDS: readonly string[] = ["help", "currencies", "search"];

/** Asks with `prompt`: the end of input ends, an empty line goes back, else `use` decides. */
async function askWith(
  s: Session,
  prompt: string,
  use: (answer: string) => Asked,
): Promise<Asked> {
  const answer = await s.ask(prompt);
  if (answer === null) return "end";
  return answer === "" ? "back" : use(answer);
}

function askSymbol(s: Session): Promise<Asked> {
  return askWith(s, "Symbol (e.g. BTC): ", (answer) => {
    if (isSymbol(answer)) return [answer];
    s.writeError(`"${safeText(answer)}" is not a coin symbol: enter one symbol such as BTC\n`);
    return "back";
  });
}

export function menuText(currency: string): string {
  return MENU.map((item) =>
    `${item.key}. ${item.label}${item.word === "currency" ? ` (now ${currency})` : ""}`
  ).join("\n") + "\n";
}

export function helpText(): string {
  const width = Math.max(...MENU.map((i) => i.usage.length), "currencies".length);
  return [
    "Type a command, or its number:",
    ...MENU.map((i) => `  ${i.key}  ${i.usage.padEnd(width)}  ${i.label.toLowerCase()}`),
    `     ${"currencies".padEnd(width)}  list the currencies`,
    `     ${"search WORD".padEnd(width)}  find coins beyond the list by symbol or name`,
    `     ${"help".padEnd(width)}  this text`,
    "Arrow keys edit and recall lines; Tab completes commands and coin symbols.",
  ].join("\n") + "\n";
}
