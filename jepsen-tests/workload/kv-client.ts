// A keeper client of the workload: random reads, writes, compare-and-swaps
// (a third of the writes and cas as one-key transactions, POST /v1/txn)
// and deletes on a few keys, each through a random node, with a unique value
// per write: odd client ids over the HTTP API, even ones over the keeper
// wire (the keeper client's path: one WebSocket per node, WireLink), so the
// checker judges both. Every call is recorded as a Porcupine interval: a
// definite answer closes it; no answer (timeout, reset, node killed or
// paused) leaves a write with return = Infinity, and drops a read.
import { WireLink } from '../../keeper/src/keeper-wire-link.js';
import { httpShaped, type WireCall } from '../../keeper/src/keeper-wire.js';
import type { KvOperation } from '../checker/kv-history.js';
import type { RegisterInput, RegisterOutput } from '../model/register.js';
import type { Rng } from '../cluster/rng.js';

export interface KvTarget {
  readonly id: string;
  readonly apiUrl: string;
}

/** What every keeper workload client (kv, bank) runs with. */
export interface KeeperClientLoop {
  readonly clientId: number;
  readonly targets: () => readonly KvTarget[];
  readonly adminToken: string;
  readonly rng: Rng;
  readonly until: () => boolean;
  readonly opTimeoutMs: number;
  /** Monotonic clock in ms (performance.now). */
  readonly now: () => number;
}

export interface KvClientOptions extends KeeperClientLoop {
  /** Keeper keys, each starting with "/". */
  readonly keys: readonly string[];
  readonly opsMax: number;
  readonly reads: ReadConsistency;
  readonly out: KvOperation[];
}

/** The outcome of one HTTP call: a status and JSON body, 'refused' (never reached the node), or 'unknown'. */
export type HttpOutcome = { readonly kind: 'answer'; readonly status: number; readonly body: unknown } | { readonly kind: 'refused' } | { readonly kind: 'unknown'; readonly why: string };

function causeCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  // fetch reports network errors as a TypeError whose `cause` carries the errno code.
  const cause = (err as { cause?: unknown }).cause;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string') return cause.code;
  return undefined;
}

export async function httpJson(url: string, init: { method: string; adminToken: string; body?: unknown; timeoutMs: number }): Promise<HttpOutcome> {
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: { authorization: `Bearer ${init.adminToken}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    return { kind: 'answer', status: res.status, body };
  } catch (err) {
    // A refused connection never reached the node: nothing happened.
    if (causeCode(err) === 'ECONNREFUSED') return { kind: 'refused' };
    return { kind: 'unknown', why: causeCode(err) ?? (err instanceof Error ? err.name : String(err)) };
  }
}

/** One keeper wire connection per node a client calls, opened on first use. */
export class WireTargets {
  private readonly links = new Map<string, WireLink>();
  constructor(private readonly adminToken: string) {}

  /** The call's outcome in HttpOutcome's terms: a call never written is 'refused' (nothing happened), one written and lost 'unknown'. */
  async call(target: KvTarget, c: WireCall, timeoutMs: number): Promise<HttpOutcome> {
    let link = this.links.get(target.apiUrl);
    if (link === undefined) this.links.set(target.apiUrl, (link = new WireLink(target.apiUrl, `Bearer ${this.adminToken}`)));
    const o = await link.call(c, timeoutMs);
    switch (o.kind) {
      case 'answer':
        return { kind: 'answer', ...httpShaped(o.answer) };
      case 'failed':
        return o.unsent ? { kind: 'refused' } : { kind: 'unknown', why: o.why };
      case 'unsupported':
        throw new Error(`${target.id} serves no keeper wire`);
    }
  }

  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}

/** The API path of a keeper key: "/jepsen/k0" → "/v1/kv/jepsen/k0". */
export function kvPath(key: string): string {
  return `/v1/kv${key.split('/').map(encodeURIComponent).join('/')}`;
}

interface KvsBody {
  readonly revision?: number;
  readonly kvs?: readonly { readonly key?: string; readonly value?: string; readonly modRevision?: number }[];
}

/** A narrowing view of a JSON answer: every field is checked where it is used. */
function asKvs(body: unknown): KvsBody {
  return typeof body === 'object' && body !== null ? (body as KvsBody) : {};
}

function numberField(body: unknown, field: string): number | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const v = (body as Record<string, unknown>)[field];
  return typeof v === 'number' ? v : undefined;
}

/**
 * Runs one operation and returns its output, or undefined when it did not
 * happen (refused, rejected as invalid, or a read without an answer).
 */
/**
 * Read consistency the workload asks for. 'serializable' reads may be stale by
 * contract: a run with them is expected to fail the linearizability check
 * under partitions, which shows the checker sees stale reads in real runs.
 */
export type ReadConsistency = 'linearizable' | 'serializable';

/** `wire`: the op goes over the keeper wire instead of HTTP. */
export async function runKvOp(
  target: KvTarget,
  key: string,
  input: RegisterInput,
  adminToken: string,
  timeoutMs: number,
  reads: ReadConsistency = 'linearizable',
  wire?: WireTargets,
): Promise<RegisterOutput | undefined> {
  const url = target.apiUrl + kvPath(key);
  /** The same call either way: the HTTP request, or its wire call. */
  const send = (path: string, init: { method: string; body?: unknown }, c: WireCall): Promise<HttpOutcome> =>
    wire === undefined ? httpJson(path, { ...init, adminToken, timeoutMs }) : wire.call(target, c, timeoutMs);
  switch (input.op) {
    case 'read': {
      const r =
        input.via === 'txn'
          ? await send(`${target.apiUrl}/v1/txn?consistency=${reads}`, { method: 'POST', body: { success: [{ get: { key } }] } }, { op: 'txn', txn: { success: [{ get: { key } }] }, consistency: reads })
          : await send(`${url}?consistency=${reads}`, { method: 'GET' }, { op: 'range', key, consistency: reads });
      if (r.kind !== 'answer' || r.status !== 200) return undefined;
      // A transaction answers the get as its first response, in a range read's shape.
      const body = input.via === 'txn' && typeof r.body === 'object' && r.body !== null ? (r.body as { responses?: unknown[] }).responses?.[0] : r.body;
      const kvs = asKvs(body).kvs;
      if (!Array.isArray(kvs)) throw new Error(`malformed read answer ${JSON.stringify(r.body)}`);
      const kv = kvs.find((x) => x.key === key);
      if (kv === undefined) return { kind: 'read', value: null, modRevision: 0 };
      if (typeof kv.value !== 'string' || typeof kv.modRevision !== 'number') throw new Error(`malformed read answer ${JSON.stringify(r.body)}`);
      return { kind: 'read', value: kv.value, modRevision: kv.modRevision };
    }
    case 'write':
    case 'cas': {
      if (input.via === 'txn') {
        const compare = input.op === 'cas' ? [{ key, target: 'modRevision' as const, op: '=' as const, value: input.ifModRevision }] : [];
        const txn = { compare, success: [{ put: { key, value: input.value } }] };
        const r = await send(`${target.apiUrl}/v1/txn`, { method: 'POST', body: txn }, { op: 'txn', txn });
        if (r.kind === 'refused') return undefined;
        if (r.kind === 'unknown') return { kind: 'unknown' };
        const revision = numberField(r.body, 'revision');
        const succeeded = typeof r.body === 'object' && r.body !== null ? (r.body as { succeeded?: unknown }).succeeded : undefined;
        if (r.status === 200 && revision !== undefined && succeeded === true) return { kind: 'written', revision };
        if (r.status === 200 && succeeded === false && input.op === 'cas') return { kind: 'cas-failed' };
        return r.status >= 500 ? { kind: 'unknown' } : undefined;
      }
      const body = input.op === 'cas' ? { value: input.value, ifModRevision: input.ifModRevision } : { value: input.value };
      const r = await send(url, { method: 'PUT', body }, { op: 'put', key, ...body });
      if (r.kind === 'refused') return undefined;
      if (r.kind === 'unknown') return { kind: 'unknown' };
      const revision = numberField(r.body, 'revision');
      if (r.status === 200 && revision !== undefined) return { kind: 'written', revision };
      if (r.status === 409 && input.op === 'cas') return { kind: 'cas-failed' };
      // A 5xx may have been proposed before it failed; any other 4xx is a definite rejection.
      return r.status >= 500 ? { kind: 'unknown' } : undefined;
    }
    case 'delete': {
      const r = await send(url, { method: 'DELETE' }, { op: 'delete', key });
      if (r.kind === 'refused') return undefined;
      if (r.kind === 'unknown') return { kind: 'unknown' };
      const revision = numberField(r.body, 'revision');
      const deleted = numberField(r.body, 'deleted');
      if (r.status === 200 && revision !== undefined && deleted !== undefined) return { kind: 'deleted', revision, deleted };
      return r.status >= 500 ? { kind: 'unknown' } : undefined;
    }
  }
}

/** Think time between operations of one client, so the loop yields and faults interleave. */
const THINK_MS_MAX = 10;

export async function kvClientLoop(o: KvClientOptions): Promise<void> {
  const wire = o.clientId % 2 === 0 ? new WireTargets(o.adminToken) : undefined;
  try {
    await clientLoop(o, wire);
  } finally {
    wire?.close();
  }
}

async function clientLoop(o: KvClientOptions, wire: WireTargets | undefined): Promise<void> {
  /** The modRevision this client last saw per key: what its next cas compares against. */
  const seen = new Map<string, number>();
  for (let i = 0; i < o.opsMax && !o.until(); i++) {
    const key = o.rng.pick(o.keys);
    const target = o.rng.pick(o.targets());
    const r = o.rng.next();
    const value = `c${o.clientId}-${i}`;
    // A third of the reads, writes and compare-and-swaps go as one-key transactions.
    const via = o.rng.int(3) === 0 ? { via: 'txn' as const } : {};
    const input: RegisterInput =
      r < 0.4 ? { op: 'read', ...via } : r < 0.65 ? { op: 'write', value, ...via } : r < 0.92 ? { op: 'cas', value, ifModRevision: seen.get(key) ?? 0, ...via } : { op: 'delete' };
    const call = o.now();
    const output = await runKvOp(target, key, input, o.adminToken, o.opTimeoutMs, o.reads, wire);
    if (output !== undefined) {
      const unknown = output.kind === 'unknown';
      o.out.push({ clientId: o.clientId, key, node: target.id, input, call, output, return: unknown ? Infinity : o.now() });
      if (output.kind === 'read') seen.set(key, output.modRevision);
      else if (output.kind === 'written') seen.set(key, output.revision);
      else if (output.kind === 'deleted') seen.set(key, 0);
      // After an unknown outcome this client is a new client: Porcupine needs one pending operation per client.
      if (unknown) return clientLoop({ ...o, clientId: o.clientId + CLIENT_ID_STRIDE, opsMax: o.opsMax - i - 1 }, wire);
    } else {
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setTimeout(res, o.rng.int(THINK_MS_MAX)));
  }
}

/** A client that lost track of an operation continues under clientId + this (even: its parity, so its transport, stays). */
export const CLIENT_ID_STRIDE = 1000;
