// Signing and checking node-to-node HTTP calls (peer RPC, calls forwarded to
// the leader, cluster-wide stats) with the keeper-held peer key. A signature
// covers the sender, a timestamp, the sender's boot id and call number, the
// method, the path and a digest of the body, so a call cannot be altered,
// moved to another route, replayed (replay-window.ts), or kept for later
// (the timestamp must be within SKEW_MS of ours).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReplayWindow } from './replay-window.js';
import { linkKey } from './frame-seal.js';

export const PEER_HEADERS = {
  from: 'x-longwire-peer',
  ts: 'x-longwire-peer-ts',
  boot: 'x-longwire-peer-boot',
  n: 'x-longwire-peer-n',
  sig: 'x-longwire-peer-sig',
} as const;

/** How far a call's timestamp may be from this node's clock. */
export const SKEW_MS = 30_000;

export type PeerCheck = { readonly ok: true; readonly peer: string } | { readonly ok: false; readonly reason: string };

export interface PeerAuthDeps {
  readonly selfId: string;
  /** The key, or undefined before the node has read it from the keeper. */
  readonly key: () => Buffer | undefined;
  readonly isMember: (id: string) => boolean;
  readonly now: () => number;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export class PeerAuth {
  private readonly boot = randomBytes(8).toString('hex');
  private n = 0;
  private readonly replays = new ReplayWindow();

  constructor(private readonly d: PeerAuthDeps) {}

  private static mac(key: Buffer, from: string, ts: string, boot: string, n: string, method: string, path: string, body: Uint8Array | string): string {
    const digest = createHash('sha256').update(body).digest('hex');
    return createHmac('sha256', key).update(`longwire-peer-call/v1\0${from}\0${ts}\0${boot}\0${n}\0${method}\0${path}\0${digest}`).digest('base64url');
  }

  /** Headers that sign a call; undefined before the key is known. */
  sign(method: string, path: string, body: Uint8Array | string): Record<string, string> | undefined {
    const key = this.d.key();
    if (key === undefined) return undefined;
    const ts = String(this.d.now());
    const n = String(++this.n);
    return {
      [PEER_HEADERS.from]: this.d.selfId,
      [PEER_HEADERS.ts]: ts,
      [PEER_HEADERS.boot]: this.boot,
      [PEER_HEADERS.n]: n,
      [PEER_HEADERS.sig]: PeerAuth.mac(key, this.d.selfId, ts, this.boot, n, method, path, body),
    };
  }

  /** This node's id. */
  get selfId(): string {
    return this.d.selfId;
  }

  /** The key of a link `dialer` opened to `listener` with an upgrade signed `upgradeSig` (frame-seal.ts); undefined without the peer key. */
  linkKey(dialer: string, listener: string, upgradeSig: string, nonce: string): Buffer | undefined {
    const key = this.d.key();
    return key === undefined ? undefined : linkKey(key, dialer, listener, upgradeSig, nonce);
  }

  /** Whether the request carries peer headers at all (then they must verify). */
  static claims(headers: Headers): boolean {
    return headers[PEER_HEADERS.sig] !== undefined;
  }

  /** Whether `id` is a member now (a link signed by a member is dropped once it is not). */
  isMember(id: string): boolean {
    return this.d.isMember(id);
  }

  verify(headers: Headers, method: string, path: string, body: Uint8Array | string): PeerCheck {
    const h = (k: keyof typeof PEER_HEADERS): string | undefined => {
      const v = headers[PEER_HEADERS[k]];
      return typeof v === 'string' ? v : undefined;
    };
    const from = h('from');
    const ts = h('ts');
    const boot = h('boot');
    const n = h('n');
    const sig = h('sig');
    if (from === undefined || ts === undefined || boot === undefined || n === undefined || sig === undefined) return { ok: false, reason: 'incomplete peer signature' };
    const key = this.d.key();
    if (key === undefined) return { ok: false, reason: 'this node has no peer key yet' };
    if (!this.d.isMember(from)) return { ok: false, reason: `${from} is not a member` };
    const at = Number(ts);
    if (!Number.isSafeInteger(at) || Math.abs(this.d.now() - at) > SKEW_MS) return { ok: false, reason: 'peer signature timestamp outside the window' };
    const num = Number(n);
    if (!Number.isSafeInteger(num) || num <= 0 || !/^[0-9a-f]{16}$/.test(boot)) return { ok: false, reason: 'bad peer call number' };
    const want = Buffer.from(PeerAuth.mac(key, from, ts, boot, n, method, path, body), 'base64url');
    const got = Buffer.from(sig, 'base64url');
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'bad peer signature' };
    if (!this.replays.accept(from, boot, num)) return { ok: false, reason: 'replayed peer call' };
    return { ok: true, peer: from };
  }
}
