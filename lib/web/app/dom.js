/**
 * Building DOM nodes with text only: every string from the server is set with `textContent`
 * (after `safeText`, so control and bidirectional characters show as escapes instead of
 * reordering the line), never parsed as HTML.
 *
 * @module
 */

import { safeText } from "../../text/safe_text.ts";

const SVG = "http://www.w3.org/2000/svg";

/**
 * A new HTML element with a class and text.
 *
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function html(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A new SVG element with attributes (numbers and our own strings only).
 *
 * @param {string} tag
 * @param {Record<string, string | number>} [attributes]
 * @returns {SVGElement}
 */
export function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/**
 * Text from the server or the upstream behind it, made safe to show: not a string -> "—".
 *
 * @param {unknown} value
 * @returns {string}
 */
export function upstream(value) {
  return typeof value === "string" ? safeText(value) : "—";
}

/**
 * The element with this id, which the page is known to have.
 *
 * @param {string} id
 * @returns {any}
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`Cannot find #${id}: expected it in index.html`);
  return node;
}
