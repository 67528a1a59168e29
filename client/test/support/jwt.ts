// HS256 tokens as the contract describes them (claims sub, app, exp), for test nodes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signToken(secret: string, claims: { sub: string; app: string; exp: number }): string {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** The claims of a valid, unexpired token for `app`, or undefined. */
export function verifyToken(secret: string, token: string, app: string, nowSeconds: number): { sub: string } | undefined {
  const [head, body, sig] = token.split('.');
  if (head === undefined || body === undefined || sig === undefined) return undefined;
  const want = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  const claims: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  if (typeof claims !== 'object' || claims === null) return undefined;
  // Narrowed field by field below.
  const c = claims as { sub?: unknown; app?: unknown; exp?: unknown };
  if (typeof c.sub !== 'string' || c.app !== app || typeof c.exp !== 'number' || c.exp <= nowSeconds) return undefined;
  return { sub: c.sub };
}
