// Metrics of the node's Raft member (the keeper), fed by the Raft shell's
// hooks. The tick lag is the one to watch: a starved process (the shell runs
// in the keeper's worker thread, which still shares the cores) delays ticks,
// and a lag near the election timeout (6 ticks of 50 ms by default) costs
// leadership.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { RaftKeeper } from '../../keeper/src/raft-keeper.js';
import type { Registry } from 'prom-client';
import type { ShellMetrics } from '../../raft/src/index.js';

export function raftMetrics(registry: Registry): ShellMetrics {
  const tickLag = new Histogram({
    name: 'longwire_raft_tick_lag_seconds',
    help: 'How late each Raft tick fired (event-loop delay as Raft sees it)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const persist = new Histogram({
    name: 'longwire_raft_append_duration_seconds',
    help: 'Time to persist one Raft Ready (hard state, entries, snapshot) with fsync',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const batch = new Histogram({
    name: 'longwire_raft_ready_entries',
    help: 'Log entries persisted per Raft Ready: how many proposals share one synced write',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  const applied = new Counter({ name: 'longwire_raft_applied_entries_total', help: 'Raft log entries applied to the keeper', registers: [registry] });
  const leader = new Gauge({ name: 'longwire_raft_is_leader', help: '1 while this member is the Raft leader', registers: [registry] });
  const leaderChanges = new Counter({ name: 'longwire_raft_leader_changes_total', help: 'Leader or role changes seen by this member', registers: [registry] });
  const snapshot = new Histogram({
    name: 'longwire_raft_snapshot_duration_seconds',
    help: 'Time to take a keeper snapshot and compact the Raft log',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  return {
    tickLagSeconds: (s) => tickLag.observe(s),
    persistSeconds: (s, entries) => {
      persist.observe(s);
      if (entries > 0) batch.observe(entries);
    },
    appliedEntries: (n) => applied.inc(n),
    softState: (ss) => {
      leader.set(ss.state === 'leader' ? 1 : 0);
      leaderChanges.inc();
    },
    snapshotSeconds: (s) => snapshot.observe(s),
  };
}

/**
 * Gauges read from the keeper at scrape time: term, commit and applied index
 * and the lag between them, the store revision and open watch streams.
 */
export function keeperGauges(registry: Registry, keeper: RaftKeeper): void {
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge('longwire_raft_term', 'Current Raft term seen by this member', () => keeper.raftStatus().term);
  gauge('longwire_raft_commit_index', 'Highest log index known committed', () => keeper.raftStatus().commit);
  gauge('longwire_raft_applied_index', 'Highest log index applied to the keeper', () => keeper.raftStatus().applied);
  gauge('longwire_raft_apply_lag_entries', 'Committed entries not yet applied', () => {
    const st = keeper.raftStatus();
    return Math.max(0, st.commit - st.applied);
  });
  gauge('longwire_keeper_revision', 'The keeper store revision', () => keeper.revision);
  gauge('longwire_keeper_kv_bytes', 'Bytes of keys and values in the keeper store (what its quota counts)', () => keeper.space.bytes);
  gauge('longwire_keeper_quota_bytes', 'The keeper space quota on this member (0: none)', () => keeper.space.quotaBytes);
  gauge('longwire_keeper_watchers', 'Open watch streams on this member', () => keeper.watcherCount);
}
