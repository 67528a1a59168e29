// The dispatcher call: `GET {dispatchUrl}/v1/dispatch?app=&user=&tried=` →
// `{"nodes":[{"id","url","zone"}],"ttl":seconds}`.
import type { Clock } from './clock.js';
import { DispatchError } from './errors.js';
import { decodeNodes, type NodeAddress } from './frames.js';

export interface DispatchAnswer {
  readonly nodes: readonly NodeAddress[];
  readonly ttl: number;
}

export interface DispatchRequest {
  readonly dispatchUrl: string;
  readonly app: string;
  readonly user: string;
  readonly tried: readonly string[];
}

export function dispatchRequestUrl(r: DispatchRequest): string {
  const q = new URLSearchParams({ app: r.app, user: r.user });
  if (r.tried.length > 0) q.set('tried', r.tried.join(','));
  return `${r.dispatchUrl.replace(/\/+$/, '')}/v1/dispatch?${q.toString()}`;
}

export async function fetchDispatch(fetchFn: typeof fetch, r: DispatchRequest, timeoutMs: number, clock: Clock): Promise<DispatchAnswer> {
  const abort = new AbortController();
  const cancelTimer = clock.setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetchFn(dispatchRequestUrl(r), { signal: abort.signal, headers: { accept: 'application/json' } });
    if (!res.ok) throw new DispatchError('dispatch-status', `dispatcher answered ${res.status}`);
    const body: unknown = await res.json();
    const isObject = typeof body === 'object' && body !== null;
    const nodes = isObject && 'nodes' in body ? decodeNodes(body.nodes) : undefined;
    if (nodes === undefined || nodes.length === 0) throw new DispatchError('dispatch-answer', 'dispatcher answer has no usable nodes');
    const ttl = isObject && 'ttl' in body && typeof body.ttl === 'number' && body.ttl >= 0 ? body.ttl : 0;
    return { nodes, ttl };
  } catch (err) {
    if (err instanceof DispatchError) throw err;
    throw new DispatchError('dispatch-failed', `dispatcher ${r.dispatchUrl} unreachable`, { cause: err });
  } finally {
    cancelTimer();
  }
}
