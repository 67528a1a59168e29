// Signed POSTs to an app's backend, shared by upstream webhooks and status
// callbacks: headers x-longwire-timestamp (unix ms) and x-longwire-signature
// = sha256=<hex HMAC-SHA256 under the app's apiKey of "<timestamp>.<body>">.
// undici's request() over one keep-alive Agent: pooled connections per
// origin, and a fraction of fetch()'s CPU per call (bench:upstream measured
// fetch at ~400 µs of CPU per call).
import { createHmac } from 'node:crypto';
import { Agent, request, errors as undiciErrors } from 'undici';

/** Connections per backend origin; calls beyond wait in undici's queue (bounded by the coordinator's queue). */
const CONNECTIONS_PER_ORIGIN_MAX = 64;
const agent = new Agent({ connections: CONNECTIONS_PER_ORIGIN_MAX, keepAliveTimeout: 30_000 });

export function sign(apiKey: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', apiKey).update(`${timestamp}.${body}`).digest('hex');
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
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
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
    const chunks: Buffer[] = [];
    let bytes = 0;
    // Leaving the loop early ends the iterator, which destroys the stream and its connection.
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      bytes += b.length;
      if (bytes > RESPONSE_BYTES_MAX) break;
      chunks.push(b);
    }
    if (bytes > RESPONSE_BYTES_MAX) return { kind: 'too-large' };
    return { kind: 'ok', status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return { kind: 'timeout' };
    return { kind: 'unreachable' };
  }
}
/** Exponential backoff with full jitter. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, rand: () => number = Math.random): number {
  return Math.floor(rand() * Math.min(maxMs, baseMs * 2 ** attempt));
}
