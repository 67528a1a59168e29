// Signed POSTs to an app's backend, shared by upstream webhooks and status
// callbacks: headers x-longwire-timestamp (unix ms) and x-longwire-signature
// = sha256=<hex HMAC-SHA256 under the app's apiKey of "<timestamp>.<body>">.
// Node's fetch (undici) keeps a pooled keep-alive connection per origin.
import { createHmac } from 'node:crypto';

export function sign(apiKey: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', apiKey).update(`${timestamp}.${body}`).digest('hex');
}

export type PostResult =
  | { readonly kind: 'ok'; readonly status: number; readonly text: string }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unreachable' }
  | { readonly kind: 'too-large' };

/** Answers larger than this are not read (a misbehaving backend cannot grow our heap). */
export const RESPONSE_BYTES_MAX = 64 * 1024;

export async function postSigned(url: string, apiKey: string, body: string, timeoutMs: number, nowMs: number): Promise<PostResult> {
  const ts = String(nowMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-longwire-timestamp': ts, 'x-longwire-signature': sign(apiKey, ts, body) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > RESPONSE_BYTES_MAX) {
      await res.body?.cancel();
      return { kind: 'too-large' };
    }
    const text = await res.text();
    if (text.length > RESPONSE_BYTES_MAX) return { kind: 'too-large' };
    if (res.status < 200 || res.status >= 300) return { kind: 'status', status: res.status };
    return { kind: 'ok', status: res.status, text };
  } catch (err) {
    return err instanceof Error && err.name === 'TimeoutError' ? { kind: 'timeout' } : { kind: 'unreachable' };
  }
}

/** Exponential backoff with full jitter. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, rand: () => number = Math.random): number {
  return Math.floor(rand() * Math.min(maxMs, baseMs * 2 ** attempt));
}
