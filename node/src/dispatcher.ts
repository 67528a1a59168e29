// The dispatcher answers "where should this client connect": the owner of
// (app, user) first, then the other nodes in ring order spread across zones,
// with addresses the client already tried last.
import type { Member } from '../../keeper/src/keeper.js';
import { rankNodes } from './ring.js';

export const DISPATCH_TTL_SECONDS = 60;

export interface DispatchNode {
  readonly id: string;
  readonly url: string;
  readonly zone: string;
}

export function gatewayUrl(m: Member, tls: boolean): string {
  return `${tls ? 'wss' : 'ws'}://${m.gateway}/ws`;
}

export function dispatch(members: readonly Member[], app: string, user: string, tried: ReadonlySet<string>, tls: boolean): DispatchNode[] {
  const ranked = rankNodes(members, `${app}\u0000${user}`);
  // Spread across zones: after the owner, take one node per zone in turn.
  const byZone = new Map<string, Member[]>();
  for (const m of ranked.slice(1)) {
    const z = byZone.get(m.zone);
    if (z === undefined) byZone.set(m.zone, [m]);
    else z.push(m);
  }
  const spread: Member[] = ranked.slice(0, 1);
  const queues = [...byZone.values()];
  for (let more = true; more; ) {
    more = false;
    for (const q of queues) {
      const m = q.shift();
      if (m !== undefined) {
        spread.push(m);
        more = true;
      }
    }
  }
  const fresh = spread.filter((m) => !tried.has(m.gateway));
  const stale = spread.filter((m) => tried.has(m.gateway));
  return [...fresh, ...stale].map((m) => ({ id: m.id, url: gatewayUrl(m, tls), zone: m.zone }));
}
