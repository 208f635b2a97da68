/**
 * The page's one WebSocket to `/ws`: JSON-lines requests as text messages, replies and `WATCH`
 * update events back. A lost connection is retried with exponential backoff and jitter, and
 * said on the page at every step, so it never looks live while it is not.
 *
 * @module
 */

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 8000;

/**
 * @typedef {object} LiveHandlers
 * @property {() => void} onOpen  the connection is (again) up: watch and refresh
 * @property {(coin: any) => void} onUpdate  one `WATCH` update event's coin object (USD)
 * @property {(state: string, text: string) => void} onState  "connecting" | "live" | "lost"
 */

/** A WebSocket that reconnects. */
export class Live {
  /** @param {LiveHandlers} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.failures = 0;
    this.timer = 0;
  }

  /** Opens the connection (again). */
  start() {
    clearTimeout(this.timer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    this.socket = socket;
    this.handlers.onState(
      "connecting",
      this.failures === 0 ? "connecting…" : `reconnecting… (try ${this.failures + 1})`,
    );
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.handlers.onState("live", "live");
      this.handlers.onOpen();
    });
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.#retry();
    });
  }

  /**
   * Sends one command of the v2 protocol, e.g. `WATCH BTC ETH`; dropped when not connected
   * (the next `onOpen` sends what matters again).
   *
   * @param {string} command
   */
  send(command) {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ v: 2, status: "OK", data: command }));
    }
  }

  /** Whether requests can be sent now. */
  get open() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  #retry() {
    this.socket = null;
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.failures) *
      (0.75 + Math.random() / 2);
    this.failures++;
    const seconds = Math.max(1, Math.round(delay / 1000));
    this.handlers.onState("lost", `reconnecting… (in ${seconds} s)`);
    this.timer = setTimeout(() => this.start(), delay);
  }

  /** @param {unknown} data */
  #receive(data) {
    if (typeof data !== "string") return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message?.event === "update" && message.data !== null && typeof message.data === "object") {
      this.handlers.onUpdate(message.data);
    }
    // Replies (to WATCH and UNWATCH) need no answer: the table comes from the HTTP API.
  }
}
