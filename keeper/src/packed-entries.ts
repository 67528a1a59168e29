// Applied log entries on their way from the Raft worker to the keeper, packed
// into one ArrayBuffer that the port transfers instead of cloning: a clone of
// an object per entry was the largest CPU item on both threads under load.
//
// Layout, per entry: [index: f64][term: f64][type: u8][length: u32][data].

import { index, term } from '../../raft/src/index.js';
import type { Entry } from '../../raft/src/index.js';

const HEADER = 8 + 8 + 1 + 4;

export function packEntries(entries: readonly Entry[]): ArrayBuffer {
  let size = 0;
  for (const e of entries) size += HEADER + e.data.length;
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  let at = 0;
  for (const e of entries) {
    view.setFloat64(at, e.index);
    view.setFloat64(at + 8, e.term);
    view.setUint8(at + 16, e.type === 'conf-change' ? 1 : 0);
    view.setUint32(at + 17, e.data.length);
    bytes.set(e.data, at + HEADER);
    at += HEADER + e.data.length;
  }
  return buf;
}

/**
 * The entries of a packed buffer, in order. Their data are views into `buf`
 * (no copy): a consumer that keeps one keeps the whole buffer alive. The
 * keeper keeps none (commands decode to strings and numbers).
 */
export function unpackEntries(buf: ArrayBuffer): Entry[] {
  const view = new DataView(buf);
  const out: Entry[] = [];
  let at = 0;
  while (at < buf.byteLength) {
    const len = view.getUint32(at + 17);
    out.push({
      index: index(view.getFloat64(at)),
      term: term(view.getFloat64(at + 8)),
      type: view.getUint8(at + 16) === 1 ? 'conf-change' : 'normal',
      data: new Uint8Array(buf, at + HEADER, len),
    });
    at += HEADER + len;
  }
  return out;
}
