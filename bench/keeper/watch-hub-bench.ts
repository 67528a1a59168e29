// The keeper's write-path cost of watch streams: WatchHub.publish per applied
// revision with many streams open, against the same publish with none (the
// baseline, run in the same process and interleaved, as the machine is
// shared). Each revision puts one of 50 keys; the streams watch up to 1,000
// distinct keys and 1,000 distinct prefixes, so most do not match: publish
// should cost what the matching streams cost, not all of them.
//
//   npm run bench:watch-hub [-- --revisions 20000 --rounds 3]
import { parseArgs } from 'node:util';
import { WatchHub } from '../../keeper/src/watch-hub.js';
import { fmtRatio, fmtUs, renderTable } from '../lib/table.js';

interface Shape {
  readonly keyWatchers: number;
  readonly prefixWatchers: number;
}

const SHAPES: readonly Shape[] = [
  { keyWatchers: 0, prefixWatchers: 0 },
  { keyWatchers: 10, prefixWatchers: 2 },
  { keyWatchers: 1000, prefixWatchers: 10 },
  { keyWatchers: 1000, prefixWatchers: 1000 },
];

/** µs per published revision, delivered in batches of 100 revisions as a group commit would. */
function run(shape: Shape, revisions: number): { usPerRevision: number; delivered: number } {
  const hub = new WatchHub(0, { schedule: () => undefined });
  let delivered = 0;
  const listener = (): boolean => {
    delivered++;
    return true;
  };
  for (let i = 0; i < shape.keyWatchers; i++) hub.watch({ key: `/svc/${i}/config` }, listener);
  for (let i = 0; i < shape.prefixWatchers; i++) hub.watch({ key: `/svc/${i}/`, prefix: true }, listener);
  const started = performance.now();
  for (let r = 1; r <= revisions; r++) {
    hub.publish(r, [{ type: 'put', revision: r, key: `/svc/${r % 50}/config`, value: 'v' }]);
    if (r % 100 === 0) hub.flush();
  }
  hub.flush();
  return { usPerRevision: ((performance.now() - started) * 1000) / revisions, delivered };
}

const { values } = parseArgs({ options: { revisions: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
const revisions = Number(values.revisions);
const rounds = Number(values.rounds);
if (!Number.isInteger(revisions) || revisions < 100 || revisions > 10_000_000) throw new Error('--revisions must be 100..10000000');
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new Error('--rounds must be 1..100');

// Warm-up, so the first shape does not pay for compilation.
run({ keyWatchers: 100, prefixWatchers: 10 }, Math.min(revisions, 5000));
const samples = SHAPES.map(() => [] as number[]);
const delivered = SHAPES.map(() => 0);
for (let round = 0; round < rounds; round++) {
  SHAPES.forEach((shape, i) => {
    const r = run(shape, revisions);
    samples[i]?.push(r.usPerRevision);
    delivered[i] = r.delivered;
  });
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const baseline = median(samples[0] ?? []);
console.log(`WatchHub.publish, ${revisions} revisions × ${rounds} rounds (median), one put per revision; baseline: no streams`);
console.log(
  renderTable(
    ['key streams', 'prefix streams', 'deliveries', 'µs / revision', 'vs no streams'],
    SHAPES.map((s, i) => [String(s.keyWatchers), String(s.prefixWatchers), String(delivered[i]), fmtUs(median(samples[i] ?? [])), fmtRatio(median(samples[i] ?? []) / baseline)]),
  ),
);
