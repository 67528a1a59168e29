// What the core needs from a WebSocket implementation. The browser's and the
// `ws` package's sockets both fit behind it (transport-browser.ts,
// transport-node.ts), so the core never imports either.
import type { Subprotocol, WireData } from './codec.js';

export interface SocketHandlers {
  onOpen(): void;
  /** Text frames as strings, binary frames as bytes. */
  onMessage(data: WireData): void;
  /** Called once, also after an error or a failed open (code 1006 then). */
  onClose(code: number, reason: string): void;
}

export interface Socket {
  /** The subprotocol the server chose, '' before open or if it chose none. */
  readonly protocol: string;
  send(data: WireData): void;
  close(code: number, reason: string): void;
}

/** Opens a socket; may throw synchronously for a malformed URL. */
export type Transport = (url: string, protocol: Subprotocol, handlers: SocketHandlers) => Socket;
