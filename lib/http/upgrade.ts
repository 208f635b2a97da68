/**
 * The WebSocket opening handshake's server side (RFC 6455 §4.2): checks an upgrade request and
 * writes the `101 Switching Protocols` that accepts it.
 *
 * @module
 */

import type { RequestHead } from "./request_head.ts";
import { hasToken } from "./request_head.ts";
import { acceptKey } from "./websocket_frames.ts";

const encoder = new TextEncoder();

/** A handshake the server accepts: the 101 to send. */
export interface Accepted {
  readonly kind: "accepted";
  readonly bytes: Uint8Array;
}

/** A handshake refused: status, message and extra header lines (e.g. the version for 426). */
export interface Refused {
  readonly kind: "refused";
  readonly status: number;
  readonly message: string;
  readonly headers: string;
}

/** Whether a request asks to upgrade its connection to WebSocket (then it must be checked). */
export function wantsWebSocket(head: RequestHead): boolean {
  return (head.headers.get("upgrade") ?? "").toLowerCase().includes("websocket");
}

/** Checks a WebSocket upgrade request and returns the 101 or the refusal. */
export function acceptUpgrade(head: RequestHead): Accepted | Refused {
  if (head.method !== "GET" || !head.http11) {
    return refused(400, "A WebSocket handshake is a GET over HTTP/1.1");
  }
  const connection = (head.headers.get("connection") ?? "").toLowerCase();
  if (!hasToken(connection, "upgrade")) {
    return refused(400, "A WebSocket handshake needs Connection: Upgrade");
  }
  if (head.headers.get("sec-websocket-version") !== "13") {
    return refused(426, "Only WebSocket version 13 is spoken", "Sec-WebSocket-Version: 13\r\n");
  }
  const key = head.headers.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return refused(400, "Sec-WebSocket-Key must be 16 bytes in base64");
  }
  const bytes = encoder.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
  );
  return { kind: "accepted", bytes };
}

function refused(status: number, message: string, headers = ""): Refused {
  return { kind: "refused", status, message, headers };
}
