// Throughput of the core alone (no disk, no network): a 3-member in-memory
// cluster commits `--entries N` proposals of `--bytes B` bytes, `--batch K`
// proposals between Ready rounds. Usage: node dist/raft/test/bench-cli.js
import { Cluster } from './helpers/cluster.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const entries = arg('--entries', 200_000);
const bytes = arg('--bytes', 100);
const batch = arg('--batch', 100);
const c = new Cluster({ uncommittedBytesMax: 0 });
c.verbose = false;
c.addNodes(3);
c.campaign(1);
c.stabilize();
const payload = 'x'.repeat(bytes);
const t0 = process.hrtime.bigint();
for (let sent = 0; sent < entries; ) {
  for (let k = 0; k < batch && sent < entries; k++, sent++) c.propose(1, payload);
  c.stabilize();
  // Keep memory flat: the applied lists are not needed here.
  for (const id of c.ids()) c.node(id).applied = [];
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
const applied = c.node(1).appliedIndex;
console.log(`${entries} entries x ${bytes} B, batch ${batch}: ${s.toFixed(2)} s, ${Math.round(entries / s)} entries/s committed on 3 members (last index ${applied})`);
