// The webhook signature of the contract: x-longwire-signature =
// sha256=<hex HMAC-SHA256 under the app's apiKey of "<timestamp>.<raw body>">.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function sign(apiKey: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', apiKey).update(`${timestamp}.${body}`).digest('hex');
}

export function verify(apiKey: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(sign(apiKey, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
