// An outsider at a node's peer port, for the security tests: raw TCP (or TLS
// with a certificate of its choosing) speaking the link handshake and Raft
// frames by hand, to show what the node accepts and refuses.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameDecoder, DecodeError, encodeMessage, frame } from '../../../raft/src/transport/codec.js';
import type { Message } from '../../../raft/src/message.js';

export interface ProbeResult {
  /** Handshake frames the node sent back (JSON). */
  readonly answers: Record<string, unknown>[];
  /** Whether the node closed the connection (within the wait). */
  readonly closedByNode: boolean;
}

/**
 * Connects to `port`, sends `frames` (objects are JSON handshake frames,
 * Raft messages are encoded), optionally answering the node's challenge with
 * `onAnswer`, and reports what came back within `waitMs`.
 */
export async function probePeerPort(
  port: number,
  frames: readonly ({ json: Record<string, unknown> } | { raft: Message })[],
  opts: { tls?: { ca: string; cert: string; key: string }; onAnswer?: (a: Record<string, unknown>) => Record<string, unknown> | undefined; waitMs?: number } = {},
): Promise<ProbeResult> {
  const s: Socket = await new Promise((resolve, reject) => {
    const sock =
      opts.tls === undefined
        ? netConnect({ host: '127.0.0.1', port }, () => resolve(sock))
        : tlsConnect({ host: '127.0.0.1', port, ...opts.tls, checkServerIdentity: () => undefined }, () => resolve(sock));
    sock.once('error', reject);
  });
  const answers: Record<string, unknown>[] = [];
  let closedByNode = false;
  const dec = new FrameDecoder(1 << 20);
  s.on('error', () => undefined);
  s.on('close', () => (closedByNode = true));
  s.on('data', (chunk: Buffer) => {
    const got = dec.push(chunk);
    if (got instanceof DecodeError) return;
    for (const f of got) {
      const a = JSON.parse(new TextDecoder().decode(f)) as Record<string, unknown>;
      answers.push(a);
      const reply = opts.onAnswer?.(a);
      if (reply !== undefined) s.write(frame(new TextEncoder().encode(JSON.stringify(reply))));
    }
  });
  for (const f of frames) s.write(frame('json' in f ? new TextEncoder().encode(JSON.stringify(f.json)) : encodeMessage(f.raft)));
  await new Promise((r) => setTimeout(r, opts.waitMs ?? 1000));
  const result = { answers, closedByNode };
  s.destroy();
  return result;
}

/** The value of one labelled series in a Prometheus text exposition, 0 when absent. */
export function metricValue(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return 0;
}
