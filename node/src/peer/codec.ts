// Peer RPC bodies are MessagePack. Options are pinned so every node of any
// build encodes and decodes the same way: plain maps, no records or extension
// types, 64-bit integers as numbers.
import { Packr } from 'msgpackr';

export const PEER_CONTENT_TYPE = 'application/x-longwire-peer';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

export function packPeer(value: unknown): Buffer {
  return packr.pack(value);
}

export function unpackPeer(bytes: Buffer): unknown {
  return packr.unpack(bytes);
}
