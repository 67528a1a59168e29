// A frame for many sockets, framed once: ws's own framer builds the header,
// and header + payload go out as one buffer written straight to each socket,
// instead of ws.send framing it again per socket (options objects, a header
// buffer, cork, two chunks and a writev). That bypass is only taken while ws's
// sender has nothing of its own pending for the socket (no compression or
// blob read in progress, so nothing queued behind one, no fragmented message
// open) and permessage-deflate is off: bytes written to the socket then follow
// every frame ws already wrote, in order. Otherwise the frame goes through
// ws.send as any other.
import WebSocket from 'ws';
import * as wsModule from 'ws';
import type { Duplex } from 'node:stream';

/** The parts of ws 8's Sender and WebSocket this relies on (not in its typings). */
interface SenderInternals {
  readonly _state: number;
  readonly _queue: readonly unknown[];
  readonly _firstFragment: boolean;
}
interface WebSocketInternals {
  readonly _socket: Duplex | null;
  readonly _sender: SenderInternals | null;
  readonly _extensions: Readonly<Record<string, unknown>>;
}
interface FrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}
type Framer = (data: Buffer, options: FrameOptions) => Buffer[];

/** ws's own framer; fails at start, not at the first broadcast, if a ws upgrade drops it. */
function wsFramer(): Framer {
  const sender = (wsModule as unknown as { Sender?: { frame?: Framer } }).Sender;
  const frame = sender?.frame;
  if (frame === undefined) throw new Error('ws no longer exports Sender.frame (protocol/ws-frame.ts relies on ws 8 internals)');
  return frame.bind(sender);
}
const wsFrame = wsFramer();

/** ws's Sender state when no compression or blob read is in progress. */
const SENDER_IDLE = 0;
const OPCODE_TEXT = 1;
const OPCODE_BINARY = 2;

/** One unmasked, uncompressed, final data frame: header and payload in one buffer. */
export function frameOnce(payload: Buffer, binary: boolean): Buffer {
  return Buffer.concat(wsFrame(payload, { fin: true, opcode: binary ? OPCODE_BINARY : OPCODE_TEXT, mask: false, readOnly: true, rsv1: false }));
}

/** The socket to write a pre-framed message to, or undefined when it must go through ws.send. */
export function rawSocketOf(ws: WebSocket): Duplex | undefined {
  if (ws.readyState !== WebSocket.OPEN) return undefined;
  const w = ws as unknown as WebSocketInternals;
  const s = w._sender;
  if (s === null || s._state !== SENDER_IDLE || s._queue.length !== 0 || !s._firstFragment) return undefined;
  if (w._extensions['permessage-deflate'] !== undefined) return undefined;
  return w._socket ?? undefined;
}
