// Signed POSTs to an app's backend, shared by upstream webhooks and status
// callbacks: headers x-longwire-timestamp (unix ms) and x-longwire-signature
// = sha256=<hex HMAC-SHA256 under the app's apiKey of "<timestamp>.<body>">.
// undici's request() over one keep-alive Agent: pooled connections per
// origin, and a fraction of fetch()'s CPU per call (bench:upstream measured
// fetch at ~400 µs of CPU per call).
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, errors as undiciErrors } from 'undici';

/** Connections per backend origin; calls beyond wait in undici's queue (bounded by the coordinator's queue). */
const CONNECTIONS_PER_ORIGIN_MAX = 64;
const agent = new Agent({ connections: CONNECTIONS_PER_ORIGIN_MAX, keepAliveTimeout: 30_000 });

/** Per-call work done once per backend or key: a handful of apps, so small memos suffice. */
const MEMO_MAX = 1024;

function memo<T>(m: Map<string, T>, key: string, make: () => T): T {
  let v = m.get(key);
  if (v === undefined) {
    if (m.size >= MEMO_MAX) m.clear();
    m.set(key, (v = make()));
  }
  return v;
}

/** HMAC keys by apiKey: createHmac with a string converts it to a key on every call. */
const hmacKeys = new Map<string, KeyObject>();

export function sign(apiKey: string, timestamp: string, body: string): string {
  const key = memo(hmacKeys, apiKey, () => createSecretKey(Buffer.from(apiKey, 'utf8')));
  return 'sha256=' + createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');
}

/** Origin and path of each webhook URL, parsed once (undici's request(url) parses the URL on every call). */
const targets = new Map<string, { readonly origin: string; readonly path: string }>();

function target(url: string): { readonly origin: string; readonly path: string } {
  return memo(targets, url, () => {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${url}`);
    return { origin: u.origin, path: `${u.pathname}${u.search}` };
  });
}

/** The body as text, or undefined past `max` bytes (the stream is then destroyed, and its connection with it). */
function readBounded(body: Readable, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > max) {
        body.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(Buffer.concat(chunks, bytes).toString('utf8')));
    body.once('error', reject);
  });
}

export type PostResult =
  | { readonly kind: 'ok'; readonly status: number; readonly text: string }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable' }
  | { readonly kind: 'too-large' };

/** Answers larger than this are cut off unread (a misbehaving backend cannot grow our heap). */
export const RESPONSE_BYTES_MAX = 64 * 1024;

export async function postSigned(url: string, apiKey: string, body: string, timeoutMs: number, nowMs: number): Promise<PostResult> {
  const ts = String(nowMs);
  try {
    const { origin, path } = target(url);
    const res = await agent.request({
      origin,
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-longwire-timestamp': ts, 'x-longwire-signature': sign(apiKey, ts, body) },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      // dump() reads a bounded amount so the connection can be reused, then discards.
      await res.body.dump({ limit: RESPONSE_BYTES_MAX }).catch(() => undefined);
      return { kind: 'status', status: res.statusCode };
    }
    // Read at most RESPONSE_BYTES_MAX, whatever content-length says (chunked answers have none).
    const text = await readBounded(res.body, RESPONSE_BYTES_MAX);
    if (text === undefined) return { kind: 'too-large' };
    return { kind: 'ok', status: res.statusCode, text };
  } catch (err) {
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return { kind: 'timeout' };
    return { kind: 'unreachable' };
  }
}
/** Exponential backoff with full jitter. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, rand: () => number = Math.random): number {
  return Math.floor(rand() * Math.min(maxMs, baseMs * 2 ** attempt));
}
