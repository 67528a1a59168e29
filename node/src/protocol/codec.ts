// The two subprotocols carry the same objects: JSON in text frames, MessagePack
// in binary frames. Encoders return what ws.send takes, so a frame is encoded
// once and the same bytes can go to every socket of that protocol.
import { Packr } from 'msgpackr';
import type { ServerFrame } from './frames.js';
import { frameOnce } from './ws-frame.js';

export const SUBPROTOCOL_JSON = 'longwire.v1.json';
export const SUBPROTOCOL_MSGPACK = 'longwire.v1.msgpack';
export type Subprotocol = typeof SUBPROTOCOL_JSON | typeof SUBPROTOCOL_MSGPACK;

// Pinned: plain maps, no records or extension types, so any MessagePack client decodes them.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

export type Encoded = string | Buffer;

export function encode(proto: Subprotocol, frame: ServerFrame): Encoded {
  return proto === SUBPROTOCOL_JSON ? JSON.stringify(frame) : packr.pack(frame);
}

/**
 * A frame for fan-out, encoded lazily at most once per protocol: its payload
 * (for ws.send) and the whole WebSocket frame (header + payload, for a raw
 * socket write, ws-frame.ts).
 */
export class SharedFrame {
  private json: Buffer | undefined;
  private msgpack: Buffer | undefined;
  private jsonFramed: Buffer | undefined;
  private msgpackFramed: Buffer | undefined;
  constructor(readonly frame: ServerFrame) {}
  payload(proto: Subprotocol): Buffer {
    if (proto === SUBPROTOCOL_JSON) return (this.json ??= Buffer.from(JSON.stringify(this.frame)));
    return (this.msgpack ??= packr.pack(this.frame));
  }
  framed(proto: Subprotocol): Buffer {
    if (proto === SUBPROTOCOL_JSON) return (this.jsonFramed ??= frameOnce(this.payload(proto), false));
    return (this.msgpackFramed ??= frameOnce(this.payload(proto), true));
  }
}

export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

export function decode(proto: Subprotocol, data: Buffer, isBinary: boolean): Decoded {
  if (proto === SUBPROTOCOL_JSON) {
    if (isBinary) return { ok: false, error: 'binary frame on the JSON subprotocol' };
    try {
      return { ok: true, value: JSON.parse(data.toString('utf8')) };
    } catch {
      return { ok: false, error: 'malformed JSON' };
    }
  }
  if (!isBinary) return { ok: false, error: 'text frame on the MessagePack subprotocol' };
  try {
    return { ok: true, value: packr.unpack(data) };
  } catch {
    return { ok: false, error: 'malformed MessagePack' };
  }
}
