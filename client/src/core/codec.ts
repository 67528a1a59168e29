// The two subprotocols carry the same objects: JSON in text frames, MessagePack
// (plain maps, no msgpackr records, so any MessagePack peer reads them) in
// binary frames.
import { Packr } from 'msgpackr';
import type { ClientFrame } from './frames.js';

export const SUBPROTOCOL_JSON = 'longwire.v1.json';
export const SUBPROTOCOL_MSGPACK = 'longwire.v1.msgpack';
export type Subprotocol = typeof SUBPROTOCOL_JSON | typeof SUBPROTOCOL_MSGPACK;

/** What a transport hands over: text frames as strings, binary frames as bytes. */
export type WireData = string | Uint8Array;

export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

export interface Codec {
  readonly protocol: Subprotocol;
  encode(frame: ClientFrame): WireData;
  decode(data: WireData): Decoded;
}

export const jsonCodec: Codec = {
  protocol: SUBPROTOCOL_JSON,
  encode: (frame) => JSON.stringify(frame),
  decode(data) {
    if (typeof data !== 'string') return { ok: false, error: 'binary frame on the JSON subprotocol' };
    try {
      return { ok: true, value: JSON.parse(data) };
    } catch {
      return { ok: false, error: 'malformed JSON' };
    }
  },
};

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

export const msgpackCodec: Codec = {
  protocol: SUBPROTOCOL_MSGPACK,
  encode: (frame) => packr.pack(frame),
  decode(data) {
    if (typeof data === 'string') return { ok: false, error: 'text frame on the MessagePack subprotocol' };
    try {
      return { ok: true, value: packr.unpack(data) };
    } catch {
      return { ok: false, error: 'malformed MessagePack' };
    }
  },
};

export function codecFor(protocol: 'json' | 'msgpack'): Codec {
  return protocol === 'json' ? jsonCodec : msgpackCodec;
}
