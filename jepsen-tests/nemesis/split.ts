// A random split of the nodes for a partition: half the time one node alone,
// otherwise a minority (floor(n/2)) against the rest.
import type { Rng } from '../cluster/rng.js';

export function randomSplit(rng: Rng, nodes: readonly string[]): { left: string[]; right: string[] } {
  const shuffled = [...nodes];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const a = shuffled[i];
    const b = shuffled[j];
    if (a === undefined || b === undefined) throw new Error('shuffle out of range');
    shuffled[i] = b;
    shuffled[j] = a;
  }
  const cut = rng.next() < 0.5 ? 1 : Math.max(1, Math.floor(nodes.length / 2));
  return { left: shuffled.slice(0, cut), right: shuffled.slice(cut) };
}
