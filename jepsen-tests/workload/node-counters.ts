// What the nodes counted of the mechanisms a round exercised (a topic hole's
// catch-up, an owner's resend, a repeat dropped, pubs sent by interest or to
// members not synced, whole interest lists sent again), read from each node's
// /metrics after the run and summed: a lower bound, as a node restarted during
// the round counts from its restart. It shows that a round that passed went
// through the paths it was meant to test.

/** Topic counters worth a look after a round, without the common prefix and suffix. */
export const TOPIC_COUNTERS = [
  'longwire_topic_catchups_total',
  'longwire_topic_pub_resends_total',
  'longwire_topic_pubs_dropped_total',
  'longwire_topic_pub_fanout_total',
  'longwire_topic_interest_syncs_total',
] as const;

const LINE = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/;

/** Sums `names` (with their labels) over the nodes' /metrics; a node that does not answer adds nothing. */
export async function scrapeCounters(apiUrls: readonly string[], names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const url of apiUrls) {
    const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })
      .then((r) => (r.ok ? r.text() : ''))
      .catch(() => '');
    for (const line of text.split('\n')) {
      const m = LINE.exec(line);
      if (m === null || !names.includes(m[1] ?? '')) continue;
      const short = `${(m[1] ?? '').replace(/^longwire_topic_/, '').replace(/_total$/, '')}${(m[2] ?? '').replace(/[a-z]+="([^"]*)"/g, '$1')}`;
      out[short] = (out[short] ?? 0) + Number(m[3]);
    }
  }
  return out;
}
