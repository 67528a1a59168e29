// longwire's keeper as a client would use it (docs/PROTOCOL.md), with the
// admin token: puts and linearizable reads over the keeper wire through the
// keeper client's link code (one WebSocket per member), or over HTTP (PUT and
// GET /v1/kv/<key>, one undici pool per member); watches are the GET
// /v1/watch ndjson stream either way.
import { WireLink } from '../../keeper/src/keeper-wire-link.js';
import type { WireCall } from '../../keeper/src/keeper-wire.js';
import { HttpMembers } from './http-members.js';
import { LONGWIRE_ADMIN_TOKEN, startLongwireCluster } from './longwire-cluster.js';
import type { KvTarget, Watch, WatchCallback } from './system.js';
import { nowMs } from '../lib/clock.js';

interface Range {
  readonly kvs: readonly { readonly value: string }[];
}

/** Per call, as the HTTP side has: no answer within this is an error. */
const WIRE_TIMEOUT_MS = 10_000;

export async function longwireTarget(size: number, concurrency: number, transport: 'wire' | 'http', cpuProf?: string): Promise<KvTarget> {
  const cluster = await startLongwireCluster(size, cpuProf);
  const http = new HttpMembers(cluster.apiUrls, concurrency, { authorization: `Bearer ${LONGWIRE_ADMIN_TOKEN}` });
  const links = cluster.apiUrls.map((u) => new WireLink(u, `Bearer ${LONGWIRE_ADMIN_TOKEN}`));
  /** One call on worker w's member's link; its answer's result, or an error. */
  const wire = async (worker: number, c: WireCall): Promise<unknown> => {
    const o = await (links[worker % links.length] as WireLink).call(c, WIRE_TIMEOUT_MS);
    if (o.kind === 'failed') throw new Error(`${c.op}: ${o.why}`);
    if (o.kind === 'unsupported') throw new Error('the node serves no keeper wire');
    if ('err' in o.answer) throw new Error(`${c.op}: ${o.answer.err.status} ${o.answer.err.message}`);
    return o.answer.ok;
  };
  const put =
    transport === 'wire'
      ? async (worker: number, key: string, value: string): Promise<void> => {
          await wire(worker, { op: 'put', key: '/' + key, value });
        }
      : async (worker: number, key: string, value: string): Promise<void> => {
          await http.ok(worker, 'PUT', `/v1/kv/${key}`, JSON.stringify({ value }));
        };
  return {
    system: 'longwire',
    pids: cluster.procs.map((p) => p.pid),
    create: put,
    put,
    async get(worker, key) {
      const r = (transport === 'wire' ? await wire(worker, { op: 'range', key: '/' + key }) : JSON.parse(await http.ok(worker, 'GET', `/v1/kv/${key}`))) as Range;
      const kv = r.kvs[0];
      if (kv === undefined) throw new Error(`longwire: ${key} not found`);
      return kv.value;
    },
    async watch(member: number, key: string, onChange: WatchCallback): Promise<Watch> {
      // The node registers the watch before it sends the status line, so the stream is established once that is in.
      const close = await http.stream(member, 'GET', `/v1/watch?key=${encodeURIComponent(key)}`, undefined, (line) => {
        const at = nowMs();
        const e = JSON.parse(line) as { type?: string; value?: string };
        if (e.type === 'put' && e.value !== undefined) onChange(at, e.value);
      });
      return { close };
    },
    async leader() {
      // Asked of every member in turn (one may be the killed leader): the first that names a leader answers.
      for (let m = 0; m < cluster.apiUrls.length; m++) {
        const a = await http.call(m, 'GET', '/v1/cluster').catch(() => undefined);
        if (a?.status !== 200) continue;
        const c = JSON.parse(a.body) as { leader?: string; members?: { id?: string }[] };
        // Member i was started as n(i+1).
        const i = /^n(\d+)$/.exec(c.leader ?? '')?.[1];
        if (i !== undefined) return Number(i) - 1;
      }
      return undefined;
    },
    kill(member) {
      process.kill(cluster.procs[member]?.pid ?? -1, 'SIGKILL');
    },
    async close() {
      for (const l of links) l.close();
      await http.close();
      await cluster.stop();
    },
  };
}
