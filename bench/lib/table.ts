// A Markdown table (pipes, padded columns): readable in a terminal and
// pasteable into docs as is.
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(2)} KiB`;
  return `${n.toFixed(0)} B`;
}

export function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? `${n.toFixed(0)} ms` : `${n.toFixed(n >= 10 ? 1 : 2)} ms`;
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a';
}

export function fmtUs(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(n >= 100 ? 0 : 1)} µs` : 'n/a';
}
