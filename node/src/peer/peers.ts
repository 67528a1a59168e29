// The node's data links to its peers: one PeerClient per member, made on first
// use from the member's API address in the keeper and replaced when that
// address changes.
import type { Member } from '../../../keeper/src/keeper.js';
import { PeerClient, type PeerLimits } from './peer-client.js';
import { PeerError } from './errors.js';
import type { PeerAuth } from './peer-auth.js';
import type { PeerTransport } from './peer-http.js';

export class Peers {
  private readonly clients = new Map<string, PeerClient>();
  private closed = false;

  constructor(
    private readonly auth: PeerAuth,
    private readonly transport: PeerTransport,
    private readonly limits: PeerLimits,
    private readonly onCall?: (method: string, body: unknown) => void,
  ) {}

  /** The link to `member`; PeerError('unreachable') while its record has no API address yet (a member known from Raft before its record applied). */
  of(member: Member): PeerClient {
    if (this.closed) throw new Error('peer links closed');
    if (member.api === '') throw new PeerError('unreachable', member.id, 'no API address known for this member yet');
    const c = this.clients.get(member.id);
    if (c !== undefined && c.api === member.api) return c;
    if (c !== undefined) void c.close();
    const fresh = new PeerClient(member.id, member.api, this.auth, this.transport, this.limits, this.onCall);
    this.clients.set(member.id, fresh);
    return fresh;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
