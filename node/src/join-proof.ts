// How a new node proves, on `--join`, that it may join: with the cluster
// secret (an HMAC over a timestamp and the request body) or with a peer
// certificate from the cluster CA (the certificate, and a signature by its
// key over the same). Neither the secret nor any admin token is sent. The
// certificate must name the member being added (CN = its id). A proof is
// good for SKEW_MS either way of the receiver's clock.
import { X509Certificate, createHash, createHmac, createPrivateKey, sign, timingSafeEqual, verify } from 'node:crypto';

export const JOIN_HEADERS = {
  ts: 'x-longwire-join-ts',
  /** Cluster-secret proof: HMAC-SHA256, base64url. */
  mac: 'x-longwire-join-mac',
  /** Certificate proof: the certificate (PEM, base64url) and the signature by its key (base64url). */
  cert: 'x-longwire-join-cert',
  sig: 'x-longwire-join-sig',
} as const;

export const SKEW_MS = 30_000;

/** What this node can prove with, or check against. */
export interface JoinCredentials {
  readonly secret?: string;
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

function message(ts: string, body: string): string {
  return `longwire-join/v1\0${ts}\0${createHash('sha256').update(body).digest('hex')}`;
}

/** Headers proving the right to join, for a request with `body`; undefined when there is nothing to prove with. */
export function joinProof(c: JoinCredentials, body: string, now: number): Record<string, string> | undefined {
  const ts = String(now);
  const m = message(ts, body);
  if (c.secret !== undefined) return { [JOIN_HEADERS.ts]: ts, [JOIN_HEADERS.mac]: createHmac('sha256', c.secret).update(m).digest('base64url') };
  if (c.tls !== undefined) {
    return {
      [JOIN_HEADERS.ts]: ts,
      [JOIN_HEADERS.cert]: Buffer.from(c.tls.cert).toString('base64url'),
      [JOIN_HEADERS.sig]: sign('sha256', Buffer.from(m), createPrivateKey(c.tls.key)).toString('base64url'),
    };
  }
  return undefined;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export function claimsJoinProof(h: Headers): boolean {
  return h[JOIN_HEADERS.ts] !== undefined;
}

/** Checks a join proof for adding member `id`; a reason when it fails. */
export function checkJoinProof(c: JoinCredentials, h: Headers, body: string, id: string, now: number): { ok: true } | { ok: false; reason: string } {
  const get = (k: keyof typeof JOIN_HEADERS): string | undefined => {
    const v = h[JOIN_HEADERS[k]];
    return typeof v === 'string' ? v : undefined;
  };
  const ts = get('ts');
  if (ts === undefined || !/^[0-9]{1,16}$/.test(ts) || Math.abs(now - Number(ts)) > SKEW_MS) return { ok: false, reason: 'join proof timestamp missing or outside the window' };
  const m = message(ts, body);
  const mac = get('mac');
  if (mac !== undefined) {
    if (c.secret === undefined) return { ok: false, reason: 'this cluster has no cluster secret' };
    const want = createHmac('sha256', c.secret).update(m).digest();
    const got = Buffer.from(mac, 'base64url');
    return want.length === got.length && timingSafeEqual(want, got) ? { ok: true } : { ok: false, reason: 'bad cluster-secret proof' };
  }
  const certB64 = get('cert');
  const sig = get('sig');
  if (certB64 === undefined || sig === undefined) return { ok: false, reason: 'join proof has neither a secret proof nor a certificate' };
  if (c.tls === undefined) return { ok: false, reason: 'this cluster has no peer CA' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(certB64, 'base64url'));
  } catch {
    return { ok: false, reason: 'join certificate is not a certificate' };
  }
  const ca = new X509Certificate(c.tls.ca);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return { ok: false, reason: 'join certificate is not from the cluster CA' };
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return { ok: false, reason: 'join certificate is not valid now' };
  if (!cert.subject.split('\n').includes(`CN=${id}`)) return { ok: false, reason: `join certificate does not name ${id}` };
  if (!verify('sha256', Buffer.from(m), cert.publicKey, Buffer.from(sig, 'base64url'))) return { ok: false, reason: 'bad join certificate signature' };
  return { ok: true };
}
