// etcd 3.4 through its v3 JSON gRPC-gateway, HTTP/JSON like longwire's API:
// POST /v3/kv/put, POST /v3/kv/range (linearizable unless "serializable":
// true, which the bench does not set) and the POST /v3/watch stream; keys and
// values are base64 in the JSON.
import { nowMs } from '../lib/clock.js';
import { startEtcdCluster } from './etcd-cluster.js';
import { createdWithin } from './watch-created.js';
import { HttpMembers } from './http-members.js';
import type { KvTarget, Watch, WatchCallback } from './system.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

interface WatchLine {
  readonly result?: { readonly created?: boolean; readonly events?: readonly { readonly type?: string; readonly kv?: { readonly value?: string } }[] };
  readonly error?: unknown;
}

export async function etcdTarget(size: number, concurrency: number): Promise<KvTarget> {
  const cluster = await startEtcdCluster(size);
  const http = new HttpMembers(cluster.clientUrls, concurrency, {});
  const put = async (worker: number, key: string, value: string): Promise<void> => {
    await http.ok(worker, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(value) }));
  };
  return {
    system: 'etcd',
    pids: cluster.procs.map((p) => p.pid),
    create: put,
    put,
    async get(worker, key) {
      const r = JSON.parse(await http.ok(worker, 'POST', '/v3/kv/range', JSON.stringify({ key: b64(key) }))) as { kvs?: { value?: string }[] };
      const v = r.kvs?.[0]?.value;
      if (v === undefined) throw new Error(`etcd: ${key} not found`);
      return unb64(v);
    },
    async watch(member: number, key: string, onChange: WatchCallback): Promise<Watch> {
      let created!: () => void;
      let failed!: (e: Error) => void;
      const established = new Promise<void>((resolve, reject) => {
        created = resolve;
        failed = reject;
      });
      const close = await http.stream(member, 'POST', '/v3/watch', JSON.stringify({ create_request: { key: b64(key) } }), (line) => {
        const at = nowMs();
        const m = JSON.parse(line) as WatchLine;
        if (m.error !== undefined) failed(new Error(`etcd watch: ${line.slice(0, 200)}`));
        if (m.result?.created === true) created();
        for (const e of m.result?.events ?? []) {
          // A put event has no "type" in the gateway's JSON (PUT is the enum's zero value).
          if (e.type === undefined && e.kv?.value !== undefined) onChange(at, unb64(e.kv.value));
        }
      });
      await createdWithin(established, close, 'etcd watch', 10_000);
      return { close };
    },
    async leader() {
      // Each member's status names the leader's id and its own; the leader is the one where they agree.
      for (let m = 0; m < cluster.clientUrls.length; m++) {
        const a = await http.call(m, 'POST', '/v3/maintenance/status', '{}').catch(() => undefined);
        if (a?.status !== 200) continue;
        const s = JSON.parse(a.body) as { leader?: string; header?: { member_id?: string } };
        if (s.leader !== undefined && s.leader !== '0' && s.leader === s.header?.member_id) return m;
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
