/**
 * The live price page: the table from `/api/v1/coins`, kept live by one WebSocket that watches
 * the coins shown, a currency remembered in the URL and local storage, a history chart per coin
 * and the server's status in the footer.
 *
 * @module
 */

import { formatMoney } from "../../text/format_money.ts";
import { ApiError, apiPath, getJson } from "./api.js";
import { ChartView } from "./chart.js";
import { byId, html, upstream } from "./dom.js";
import { Live } from "./live.js";
import { showFreshness, showInfo } from "./status.js";
import { CoinTable } from "./table.js";

/** The server's cap on symbols per connection (`MAX_WATCHED`). */
const MAX_WATCHED = 50;
const STORAGE_KEY = "crypto-price-currency";
const CODE = /^[A-Z0-9]{1,10}$/;

const state = {
  currency: initialCurrency(),
  /** @type {Map<string, string>} code -> unit, for currencies `Intl` does not know */
  units: new Map(),
  /** @type {any[]} */
  coins: [],
  /** The last `/api/v1/info` report, or null. */
  info: null,
  watched: "",
  /** Increased by each table load, so an older answer arriving late is dropped. */
  loads: 0,
  /** How often the WebSocket has opened. */
  opened: 0,
};

/**
 * @param {number | null} amount
 * @param {string} [currency]
 * @param {boolean} [whole]
 */
function money(amount, currency = state.currency, whole = false) {
  if (typeof amount !== "number") return "—";
  return formatMoney(amount, currency, { unit: state.units.get(currency), whole });
}

const chart = new ChartView(() => state.currency, (amount, currency) => money(amount, currency));
const table = new CoinTable(byId("coins"), (coin) => coin && chart.open(coin));
table.money = (amount, whole) => money(amount, state.currency, whole);
const live = new Live({
  onOpen: () => {
    state.watched = "";
    // The first time, the page's own first load is enough; after a loss, prices may have moved.
    if (state.opened++ === 0) watchShown();
    else loadCoins(true);
  },
  onUpdate,
  onState: (kind, text) => {
    const line = byId("connection");
    line.textContent = text;
    line.className = `connection ${kind}`;
  },
});

/** The currency from `?currency=`, else the one chosen last time, else USD. */
function initialCurrency() {
  const asked = new URLSearchParams(location.search).get("currency")?.toUpperCase();
  if (asked && CODE.test(asked)) return asked;
  let stored = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage may be disabled; the URL still works.
  }
  return stored && CODE.test(stored) ? stored : "USD";
}

/**
 * Loads the whole table in the current currency; prices that moved flash when `flash`.
 *
 * @param {boolean} flash
 */
async function loadCoins(flash) {
  const load = ++state.loads;
  const currency = state.currency;
  try {
    const coins = await getJson(apiPath("coins", currency));
    if (load !== state.loads || !Array.isArray(coins)) return;
    state.coins = coins;
    table.setCoins(coins, flash);
    if (!performance.getEntriesByName("first-rows").length) performance.mark("first-rows");
    problem("");
    showFreshness(coins, state.info);
    watchShown();
  } catch (error) {
    if (load !== state.loads) return;
    problem(`Cannot load prices: ${describe(error)}; trying again`);
    later("coins-retry", () => loadCoins(flash), 5000);
  }
}

/** Watches the coins shown (the first 50), when that set changed. */
function watchShown() {
  const symbols = table.shown().slice(0, MAX_WATCHED);
  const key = symbols.join(" ");
  if (!live.open || key === state.watched || symbols.length === 0) return;
  if (state.watched !== "") live.send("UNWATCH");
  live.send(`WATCH ${key}`);
  state.watched = key;
}

/**
 * A `WATCH` update event (always in USD): applied as is in USD; in another currency, or with
 * more coins than can be watched (`--top` up to 250), it says the snapshot changed, so the table
 * is loaded again.
 *
 * @param {any} coin
 */
function onUpdate(coin) {
  if (state.currency === "USD" && state.coins.length <= MAX_WATCHED) {
    table.upsert(coin, true);
    state.coins = state.coins.map((c) => c.symbol === coin.symbol ? coin : c);
    table.arrange();
    showFreshness(state.coins, state.info);
  } else {
    later("coins", () => loadCoins(true), 150);
  }
  if (coin.symbol === chart.symbol) later("chart", () => chart.refresh(), 150);
  later("info", loadInfo, 1000);
}

const timers = new Map();
/**
 * Runs `task` once after `ms`, however often it is asked for meanwhile.
 *
 * @param {string} name
 * @param {() => unknown} task
 * @param {number} ms
 */
function later(name, task, ms) {
  if (timers.has(name)) return;
  timers.set(
    name,
    setTimeout(() => {
      timers.delete(name);
      task();
    }, ms),
  );
}

let infoTimer = 0;
/**
 * Reads the server's status, and again just after the next ingestion is due (so an ingestion
 * that changed no price still shows as fetched, and one that failed shows as stale), at least
 * every 30 s.
 */
async function loadInfo() {
  let wait = 30_000;
  try {
    const info = await getJson("/api/v1/info");
    state.info = info;
    showInfo(info);
    // A newer snapshot whose changes no event brought (a coin past the watched 50): load it.
    const shown = Math.max(0, ...state.coins.map((c) => Date.parse(c.fetched_at) || 0));
    if (state.coins.length > 0 && Date.parse(info?.data?.fetched_at) > shown) {
      later("coins", () => loadCoins(true), 0);
    }
    showFreshness(state.coins, info);
    const due = Date.parse(info?.ingestion?.next_refresh_at) - Date.now() + 1000;
    if (Number.isFinite(due)) wait = Math.min(30_000, Math.max(2000, due));
  } catch (error) {
    byId("source").textContent = `Server status unavailable: ${describe(error)}`;
  }
  clearTimeout(infoTimer);
  infoTimer = setTimeout(loadInfo, wait);
}

async function loadCurrencies() {
  const select = byId("currency");
  try {
    const currencies = await getJson("/api/v1/currencies");
    if (!Array.isArray(currencies)) return;
    for (const c of currencies) state.units.set(c.code, upstream(c.unit));
    const options = currencies.map((c) => {
      const option = /** @type {HTMLOptionElement} */ (html(
        "option",
        "",
        `${upstream(c.code)} — ${upstream(c.name)}`,
      ));
      option.value = c.code;
      return option;
    });
    select.replaceChildren(...options);
    if (!state.units.has(state.currency)) {
      const asked = state.currency;
      await setCurrency("USD");
      problem(`The server has no currency ${asked}; showing USD.`);
    }
    select.value = state.currency;
    table.refill();
  } catch (error) {
    problem(`Cannot load currencies: ${describe(error)}`);
  }
}

/**
 * Switches every amount to `code`, and remembers it in the URL and local storage.
 *
 * @param {string} code
 */
async function setCurrency(code) {
  state.currency = code;
  const url = new URL(location.href);
  url.searchParams.set("currency", code);
  history.replaceState(null, "", url);
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Storage may be disabled; the URL still works.
  }
  byId("currency").value = code;
  await loadCoins(false);
  if (chart.symbol !== null) chart.refresh();
}

/** @param {string} text */
function problem(text) {
  const line = byId("problem");
  line.textContent = text;
  line.hidden = text === "";
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof ApiError ? upstream(error.message) : "unexpected answer";
}

byId("currency").addEventListener("change", (event) => setCurrency(event.target.value));
byId("filter").addEventListener("input", (event) => {
  table.filter = event.target.value;
  table.arrange();
  byId("empty").hidden = table.shown().length > 0 || table.rows.size === 0;
  later("watch", watchShown, 300);
});
setInterval(() => {
  table.tick();
  showFreshness(state.coins, state.info);
}, 1000);

loadCoins(false);
loadCurrencies();
loadInfo();
live.start();
