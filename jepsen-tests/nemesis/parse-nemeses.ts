// `--faults kill,pause,...` (or `all`): the nemeses a run may draw from.
export function parseNemeses<K extends string>(spec: string, known: readonly K[]): Set<K> {
  if (spec === 'all') return new Set(known);
  const out = new Set<K>();
  for (const k of spec.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const found = known.find((x) => x === k);
    if (found === undefined) throw new Error(`unknown fault '${k}' (known: ${known.join(', ')}, all)`);
    out.add(found);
  }
  return out;
}
