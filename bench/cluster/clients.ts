// The bench's side of a cluster run: WebSocket clients bound to the bench
// app, a closed loop of API calls, and the topic phase (publishes through one
// node to subscribers on others), shared by bench:cluster and
// bench:topic-fanout. Every loop is bounded in count and time.
import { WebSocket } from 'ws';
import { clientToken } from '../upstream/token.js';
import { percentile, sorted } from '../lib/stats.js';
import { API_KEY, APP, TOKEN_SECRET, type BenchNode } from './nodes.js';

export interface Client {
  readonly ws: WebSocket;
  readonly user: string;
  onMsg: (f: Record<string, unknown>) => void;
}

/** Opens a connection to `url` and binds `user` of the bench app on it. */
export async function connect(url: string, user: string, device: string): Promise<Client> {
  // The token first: an `open` fired while it was being signed would be missed.
  const token = await clientToken(TOKEN_SECRET, APP, user);
  const ws = new WebSocket(url, ['longwire.v1.json']);
  const c: Client = { ws, user, onMsg: () => undefined };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bind of ${user} timed out`)), 30_000);
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ t: 'hello', device, apps: [{ app: APP, token }] })));
    ws.on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as Record<string, unknown>;
      if (f.t === 'bound') {
        clearTimeout(timer);
        resolve();
      } else if (f.t === 'error') {
        clearTimeout(timer);
        reject(new Error(JSON.stringify(f)));
      } else c.onMsg(f);
    });
  });
  return c;
}

export function closeAll(cs: readonly Client[]): void {
  for (const c of cs) c.ws.terminate();
}

/** How much load a phase puts on: calls open at once, and its time bound. */
export interface LoopBounds {
  readonly inflight: number;
  readonly phaseMs: number;
}

/**
 * A phase's load: `count` calls (call i), at most `inflight` open, within
 * `phaseMs`; then waits, within the same time, until `received()` reaches
 * the answered calls (times `copies`, the deliveries each call makes).
 * Answers the phase's seconds and the calls not answered 200.
 */
export async function closedLoop(
  b: LoopBounds,
  count: number,
  received: () => number,
  call: (i: number) => Promise<{ status: number }>,
  copies = 1,
): Promise<{ secs: number; errors: number }> {
  const start = performance.now();
  const deadline = start + b.phaseMs;
  let next = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      const r = await call(next++).catch(() => ({ status: 0 }));
      if (r.status !== 200) errors++;
    }
  };
  await Promise.all(Array.from({ length: b.inflight }, worker));
  const answered = next - errors;
  while (received() < answered * copies && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return { secs: (performance.now() - start) / 1000, errors };
}

/** Peer calls sent by all `nodes` so far, by method. */
export async function peerCalls(nodes: readonly BenchNode[]): Promise<Map<string, number>> {
  const sum = new Map<string, number>();
  for (const n of nodes) for (const [m, v] of await n.peerCalls()) sum.set(m, (sum.get(m) ?? 0) + v);
  return sum;
}

/** Peer calls between two counts, by method, per one of `n` things done. */
export function perEach(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [m, v] of after) {
    const d = v - (before.get(m) ?? 0);
    if (d > 0) out[m] = d / Math.max(1, n);
  }
  return out;
}

export interface TopicPhaseResult {
  /** Publishes answered per second (each reached every subscriber). */
  readonly perSec: number;
  /** Publish → subscriber, over every subscriber's pubs. */
  readonly p99: number;
  readonly errors: number;
  /** Pubs the subscribers got, over all of them. */
  readonly received: number;
}

/**
 * `publishes` publishes round robin over `topics` through `pubVia`, at most
 * b.inflight open; one subscriber of them all on each node of `subOn`.
 */
export async function topicPhase(b: LoopBounds, publishes: number, pubVia: BenchNode, subOn: readonly BenchNode[], topics: readonly string[]): Promise<TopicPhaseResult> {
  const subs = await Promise.all(subOn.map((n, i) => connect(n.wsUrl, `topic-sub-${i}`, `topic-sub-${i}`)));
  const latencies: number[] = [];
  let received = 0;
  await Promise.all(
    subs.map(async (sub) => {
      let ready: () => void = () => undefined;
      const subscribed = new Promise<void>((resolve) => (ready = resolve));
      sub.onMsg = (f) => {
        if (f.t === 'pong') ready();
        if (f.t !== 'pub') return;
        const sent = (f.data as { at?: number } | null)?.at;
        if (typeof sent === 'number') latencies.push(performance.now() - sent);
        received++;
      };
      for (const topic of topics) sub.ws.send(JSON.stringify({ t: 'sub', app: APP, topic }));
      // Subs are handled in order: the pong says every subscription is made.
      sub.ws.send(JSON.stringify({ t: 'ping' }));
      await subscribed;
    }),
  );
  const { secs, errors } = await closedLoop(
    b,
    publishes,
    () => received,
    (i) => pubVia.api('POST', `/v1/apps/${APP}/topics/${topics[i % topics.length] ?? ''}`, { data: { at: performance.now() } }, API_KEY),
    subs.length,
  );
  closeAll(subs);
  return { perSec: received / subs.length / secs, p99: percentile(sorted(latencies), 99), errors, received };
}
