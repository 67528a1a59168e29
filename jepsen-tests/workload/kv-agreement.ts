// After healing, every member of the keeper must hold the same keys and
// values: the digest of each member's store at one revision (GET
// /v1/keeper/hash?revision=R) is compared. Linearizability checks what
// clients saw; this finds a member whose state went its own way where no
// client looked (a replica that applied an entry differently, or lost one).
import { httpJson } from './kv-client.js';

export interface AgreementResult {
  /** Every member answered at one revision with the same digest. */
  readonly ok: boolean;
  readonly revision?: number;
  /** Member id → digest (or why it did not answer). */
  readonly digests: Readonly<Record<string, string>>;
  readonly why?: string;
}

interface Member {
  readonly id: string;
  readonly apiUrl: string;
}

/**
 * Asks `members` for their digests at the revision the first one is at, until
 * all answered at one revision (a restarted member may not reach back that
 * far: then at a later one), or `deadlineMs` (performance.now()) passes.
 */
export async function checkAgreement(members: readonly Member[], adminToken: string, timeoutMs: number, deadlineMs: number): Promise<AgreementResult> {
  let last: AgreementResult = { ok: false, digests: {}, why: 'not asked' };
  for (let attempt = 0; performance.now() < deadlineMs && attempt < 100; attempt++) {
    const first = members[0];
    if (first === undefined) return { ok: false, digests: {}, why: 'no members' };
    const head = await httpJson(`${first.apiUrl}/v1/keeper/hash`, { method: 'GET', adminToken, timeoutMs });
    const revision = head.kind === 'answer' && head.status === 200 ? (head.body as { revision?: unknown }).revision : undefined;
    if (typeof revision !== 'number') {
      last = { ok: false, digests: {}, why: `${first.id} gave no revision` };
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const digests: Record<string, string> = {};
    let answered = true;
    for (const m of members) {
      const r = await httpJson(`${m.apiUrl}/v1/keeper/hash?revision=${revision}`, { method: 'GET', adminToken, timeoutMs });
      const hash = r.kind === 'answer' && r.status === 200 ? (r.body as { hash?: unknown }).hash : undefined;
      if (typeof hash === 'string') digests[m.id] = hash;
      else {
        answered = false;
        digests[m.id] = r.kind === 'answer' ? `no digest (${r.status})` : `no answer (${r.kind})`;
      }
    }
    if (answered) {
      const ok = new Set(Object.values(digests)).size === 1;
      return { ok, revision, digests, ...(ok ? {} : { why: `members hold different keys and values at revision ${revision}` }) };
    }
    last = { ok: false, revision, digests, why: 'not every member answered at one revision' };
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}
