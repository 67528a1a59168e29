// etcd 3.4 through its native gRPC API, etcd's own clients' path, so the bench
// can tell the server's cost from the v3 JSON gateway's (etcd-target.ts): the
// same cluster and semantics, but binary protobuf over one HTTP/2 channel per
// member (@grpc/grpc-js, etcd's rpc.proto as the etcd3 package ships it).
// KV.Put, KV.Range (linearizable: serializable is left false) and one Watch
// stream per watch; every unary call has a deadline.
import { createRequire } from 'node:module';
import { Client, credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { nowMs } from '../lib/clock.js';
import { startEtcdCluster } from './etcd-cluster.js';
import { createdWithin } from './watch-created.js';
import type { KvTarget, Watch, WatchCallback } from './system.js';

/** Per call: no answer within this is an error, not a stall of the phase. */
const CALL_TIMEOUT_MS = 10_000;

// uint64 ids as decimal strings, and absent fields at their defaults (a PUT
// event's type is the enum's zero value, so it is absent on the wire).
const rpc = loadSync(createRequire(import.meta.url).resolve('etcd3/proto/rpc.proto'), { keepCase: true, longs: String, defaults: true });
/** mvccpb.Event.EventType.PUT by number: etcd3's copy of kv.proto renames the enum's values. */
const PUT = 0;

function method<Req, Res>(service: string, name: string): MethodDefinition<Req, Res> {
  const m = (rpc[`etcdserverpb.${service}`] as Record<string, MethodDefinition<object, object>> | undefined)?.[name];
  if (m === undefined) throw new Error(`etcd rpc.proto: no ${service}.${name}`);
  return m as unknown as MethodDefinition<Req, Res>;
}

interface Header {
  readonly member_id: string;
}
interface KeyValue {
  readonly value: Buffer;
}
interface WatchResponse {
  readonly created: boolean;
  readonly canceled: boolean;
  readonly cancel_reason: string;
  readonly events: readonly { readonly type: number; readonly kv: KeyValue | null }[];
}
interface WatchRequest {
  readonly create_request: { readonly key: Buffer };
}

const Put = method<{ key: Buffer; value: Buffer }, object>('KV', 'Put');
const Range = method<{ key: Buffer }, { kvs: readonly KeyValue[] }>('KV', 'Range');
const Status = method<object, { header: Header | null; leader: string }>('Maintenance', 'Status');
const WatchRpc = method<WatchRequest, WatchResponse>('Watch', 'Watch');

function unary<Req, Res>(client: Client, m: MethodDefinition<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, res) => {
      if (err !== null) reject(err);
      else if (res === undefined) reject(new Error(`${m.path}: no answer`));
      else resolve(res);
    });
  });
}

/** `concurrency` sizes nothing here: gRPC multiplexes every call on the member's one channel. */
export async function etcdGrpcTarget(size: number, _concurrency: number): Promise<KvTarget> {
  const cluster = await startEtcdCluster(size);
  const clients = cluster.clientUrls.map((u) => new Client(u.replace(/^http:\/\//, ''), credentials.createInsecure()));
  const member = (i: number): Client => {
    const c = clients[i % clients.length];
    if (c === undefined) throw new Error('no member');
    return c;
  };
  const streams = new Set<ClientDuplexStream<WatchRequest, WatchResponse>>();
  const put = async (worker: number, key: string, value: string): Promise<void> => {
    await unary(member(worker), Put, { key: Buffer.from(key), value: Buffer.from(value) });
  };
  return {
    system: 'etcd',
    pids: cluster.procs.map((p) => p.pid),
    create: put,
    put,
    async get(worker, key) {
      const v = (await unary(member(worker), Range, { key: Buffer.from(key) })).kvs[0]?.value;
      if (v === undefined) throw new Error(`etcd: ${key} not found`);
      return v.toString('utf8');
    },
    async watch(m: number, key: string, onChange: WatchCallback): Promise<Watch> {
      let created!: () => void;
      let failed!: (e: Error) => void;
      const established = new Promise<void>((resolve, reject) => {
        created = resolve;
        failed = reject;
      });
      const stream = member(m).makeBidiStreamRequest(WatchRpc.path, WatchRpc.requestSerialize, WatchRpc.responseDeserialize);
      streams.add(stream);
      const close = (): void => {
        streams.delete(stream);
        stream.cancel();
      };
      stream.on('data', (r: WatchResponse) => {
        const at = nowMs();
        if (r.created) created();
        if (r.canceled) failed(new Error(`etcd watch: canceled: ${r.cancel_reason}`));
        for (const e of r.events) if (e.type === PUT && e.kv !== null) onChange(at, e.kv.value.toString('utf8'));
      });
      // After creation the stream ends only on close or a dead member, as the gateway's does.
      stream.on('error', (err) => failed(err));
      stream.write({ create_request: { key: Buffer.from(key) } });
      await createdWithin(established, close, 'etcd watch', CALL_TIMEOUT_MS);
      return { close };
    },
    async leader() {
      // Each member's status names the leader's id and its own; the leader is the one where they agree.
      for (let m = 0; m < clients.length; m++) {
        const s = await unary(member(m), Status, {}).catch(() => undefined);
        if (s !== undefined && s.leader !== '0' && s.leader === s.header?.member_id) return m;
      }
      return undefined;
    },
    kill(m) {
      process.kill(cluster.procs[m]?.pid ?? -1, 'SIGKILL');
    },
    async close() {
      for (const s of [...streams]) s.cancel();
      streams.clear();
      for (const c of clients) c.close();
      await cluster.stop();
    },
  };
}
