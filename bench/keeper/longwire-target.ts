// longwire's keeper through its HTTP API, as a client would use it
// (docs/PROTOCOL.md): PUT /v1/kv/<key> {"value"}, GET /v1/kv/<key> (linearizable
// by default) and the GET /v1/watch ndjson stream, with the admin token.
import { HttpMembers } from './http-members.js';
import { LONGWIRE_ADMIN_TOKEN, startLongwireCluster } from './longwire-cluster.js';
import type { KvTarget, Watch, WatchCallback } from './system.js';
import { nowMs } from '../lib/clock.js';

interface Range {
  readonly kvs: readonly { readonly value: string }[];
}

export async function longwireTarget(size: number, concurrency: number, cpuProf?: string): Promise<KvTarget> {
  const cluster = await startLongwireCluster(size, cpuProf);
  const http = new HttpMembers(cluster.apiUrls, concurrency, { authorization: `Bearer ${LONGWIRE_ADMIN_TOKEN}` });
  const put = async (worker: number, key: string, value: string): Promise<void> => {
    await http.ok(worker, 'PUT', `/v1/kv/${key}`, JSON.stringify({ value }));
  };
  return {
    system: 'longwire',
    pids: cluster.procs.map((p) => p.pid),
    create: put,
    put,
    async get(worker, key) {
      const r = JSON.parse(await http.ok(worker, 'GET', `/v1/kv/${key}`)) as Range;
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
      await http.close();
      await cluster.stop();
    },
  };
}
