/**
 * Amounts written the way their currency is: `$20,220.00`, `€1,355.37`, `0.06703 ETH`.
 *
 * @module
 */

import { DASH } from "./dash.ts";
import { safeText as clean } from "./safe_text.ts";

/** Options for {@linkcode formatMoney}. */
export interface MoneyOptions {
  /** Marks amounts in a currency `Intl` does not know, e.g. crypto; defaults to the code. */
  unit?: string;
  /** Round to whole units, for large totals such as a market cap. */
  whole?: boolean;
  /** Decimals for an amount too small for the currency's own (see {@linkcode formatColumn}). */
  smallDecimals?: number;
}

/**
 * Formats an amount the way its currency is written, with the locale of the country the code
 * names: `$20,220.00`, `€1,355.37`, `123.456.789 ₫` (no decimals for VND), `¥2,896,312`.
 * Amounts too small for the currency's usual decimals get four significant digits instead
 * (`0,2712 ₫`, `$0.00001149`, `€0.4180`), or `smallDecimals`. Currencies `Intl` does not know
 * (BTC, SATS, XAU...) are written as `0.06703 ETH` with `unit`, or the code.
 */
export function formatMoney(amount: number, currency: string, options: MoneyOptions = {}): string {
  if (!Number.isFinite(amount)) return DASH;
  const code = currency.toUpperCase();
  const { locale, intl, decimals } = currencyStyle(code);
  let places = options.whole ? 0 : moneyDecimals(amount, code);
  if (places > decimals && options.smallDecimals !== undefined) places = options.smallDecimals;
  const text = numberFormat(locale, intl ? code : undefined, [places, places]).format(amount)
    .replace(BIDI_MARKS, "")
    // ICU's Japanese locale writes the fullwidth yen, which stands out in a table: ¥ as usual.
    .replace(/\uffe5/g, "¥");
  return intl ? text : `${text} ${clean(options.unit ?? code)}`;
}

/**
 * The decimals {@linkcode formatMoney} writes `amount` with: the currency's own, or for an
 * amount too small for them, as many as four significant digits take (at most 20).
 */
export function moneyDecimals(amount: number, currency: string): number {
  const { decimals } = currencyStyle(currency.toUpperCase());
  const abs = Math.abs(amount);
  const rounded = Number(abs.toPrecision(4));
  if (!Number.isFinite(abs) || abs === 0 || rounded >= 10 ** (2 - decimals)) return decimals;
  const exponent = Number(rounded.toExponential().split("e")[1]);
  return Math.min(20, Math.max(decimals, 3 - exponent));
}

/**
 * Amounts that stand in one column or one summary: the small ones all get the decimals the
 * smallest needs, so one column has one precision (`€0.41800` above `€0.03819`, not `€0.418`);
 * amounts the currency's own decimals suit keep them.
 */
export function formatColumn(
  amounts: readonly number[],
  currency: string,
  options: MoneyOptions = {},
): string[] {
  const smallDecimals = Math.max(0, ...amounts.map((a) => moneyDecimals(a, currency)));
  return amounts.map((a) => formatMoney(a, currency, { ...options, smallDecimals }));
}

/**
 * How a heading names the currency of its amounts: the code when `Intl` writes the amounts
 * (`USD`, `EUR`), else the unit they are marked with (`sats`, `ETH`), so the two agree.
 */
export function currencyLabel(currency: string, unit?: string): string {
  const code = currency.toUpperCase();
  return clean(currencyStyle(code).intl ? code : unit ?? code);
}

/** How one currency is written: its locale, whether `Intl` knows it, its usual decimals. */
function currencyStyle(code: string): { locale: string; intl: boolean; decimals: number } {
  let style = STYLES.get(code);
  if (style === undefined) {
    const intl = /^[A-Z]{3}$/.test(code) && INTL_CURRENCIES.has(code);
    let locale = "en-US";
    if (intl && code !== "USD") {
      try {
        // ISO 4217 codes start with the ISO 3166 country: VND -> VN -> vi-VN. The script is
        // left out because ICU has no data for e.g. en-Latn-BM but has it for en-BM.
        const likely = new Intl.Locale(`und-${code.slice(0, 2)}`).maximize();
        locale = `${likely.language}-${likely.region}`;
        numberFormat(locale, code, [0, 0]);
      } catch {
        locale = "en-US";
      }
    }
    const decimals = intl
      ? numberFormat(locale, code, undefined).resolvedOptions().maximumFractionDigits ?? 2
      : 2;
    style = { locale, intl, decimals };
    STYLES.set(code, style);
  }
  return style;
}

const STYLES = new Map<string, { locale: string; intl: boolean; decimals: number }>();
const FORMATS = new Map<string, Intl.NumberFormat>();
const INTL_CURRENCIES = new Set(Intl.supportedValuesOf("currency"));
// Right-to-left locales wrap amounts in direction marks, which a terminal shows as nothing at
// best and as garbage at worst.
const BIDI_MARKS = /[\u200e\u200f\u061c]/g;

function numberFormat(
  locale: string,
  currency: string | undefined,
  fraction: [number, number] | undefined,
): Intl.NumberFormat {
  const key = `${locale} ${currency} ${fraction}`;
  let format = FORMATS.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(`${locale}-u-nu-latn`, {
      ...(currency === undefined ? {} : { style: "currency", currency }),
      ...(fraction === undefined
        ? {}
        : { minimumFractionDigits: fraction[0], maximumFractionDigits: fraction[1] }),
    });
    FORMATS.set(key, format);
  }
  return format;
}
