// What each member's software can apply, announced in the keeper, so a new
// kind of log entry is proposed only once every member knows it: during a
// rolling upgrade an older member that met an entry it cannot decode would
// stop (its keeper storage "corrupt"), and with it the quorum.

import type { Keeper } from '../../keeper/src/keeper.js';

export const FEATURES_PREFIX = '/sys/features/';

/**
 * What this build added after the first release that every member must know
 * before it is used: log commands (txn, txn-get), and topic offsets above the
 * floor of reaped topics (topic-floor: an older owner would start such a
 * topic at its own stored offset).
 */
export const FEATURES = ['txn', 'txn-get', 'topic-floor'] as const;
export type Feature = (typeof FEATURES)[number];

export function featuresKey(memberId: string): string {
  return FEATURES_PREFIX + memberId;
}

/** Records what this member can apply (at every start: an upgraded member announces its new features). */
export async function announceFeatures(keeper: Keeper, memberId: string): Promise<void> {
  const value = JSON.stringify({ features: FEATURES });
  const now = (await keeper.range(featuresKey(memberId))).kvs[0];
  if (now?.value !== value) await keeper.put(featuresKey(memberId), value);
}

/** The members (voters and learners) that have not announced `feature`, in member order. */
export async function lacking(keeper: Keeper, feature: Feature): Promise<string[]> {
  // Local reads: announcements change only when a member starts, and this runs before every transaction.
  const announced = new Map((await keeper.range(FEATURES_PREFIX, { prefix: true, consistency: 'serializable' })).kvs.map((kv) => [kv.key.slice(FEATURES_PREFIX.length), kv.value]));
  return keeper
    .cluster()
    .members.map((m) => m.id)
    .filter((id) => {
      try {
        const v = JSON.parse(announced.get(id) ?? 'null') as { features?: unknown } | null;
        return !(Array.isArray(v?.features) && v.features.includes(feature));
      } catch {
        return true;
      }
    });
}
