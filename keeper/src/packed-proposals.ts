// The proposals of one event-loop turn on their way from the keeper to its
// Raft worker, packed into one ArrayBuffer that the port transfers instead of
// cloning: a clone allocates a buffer per proposal on both threads.
//
// Layout, per proposal: [length: u32][bytes].

const HEADER = 4;

export function packProposals(parts: readonly Uint8Array[]): ArrayBuffer {
  let size = 0;
  for (const p of parts) size += HEADER + p.length;
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length);
    bytes.set(p, at + HEADER);
    at += HEADER + p.length;
  }
  return buf;
}

/**
 * The proposals of a packed buffer, in order, as views into `buf` (no copy):
 * the log entries made from them share it, and it is exactly their size.
 */
export function unpackProposals(buf: ArrayBuffer): Uint8Array[] {
  const view = new DataView(buf);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < buf.byteLength) {
    const len = view.getUint32(at);
    out.push(new Uint8Array(buf, at + HEADER, len));
    at += HEADER + len;
  }
  return out;
}
