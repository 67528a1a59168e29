/** A datadriven test case: a command line and its expected output, as in etcd's datadriven package. */
export interface TestCase {
  /** 1-based line of the command in the file. */
  readonly line: number;
  readonly cmd: string;
  readonly args: readonly Arg[];
  readonly raw: string;
  readonly expected: string;
}

/** `key`, `key=value` or `key=(v1,v2)`. */
export interface Arg {
  readonly key: string;
  readonly values: readonly string[];
}

function parseArgs(words: readonly string[]): Arg[] {
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return { key: w, values: [] };
    const key = w.slice(0, eq);
    let v = w.slice(eq + 1);
    if (v.startsWith('(') && v.endsWith(')')) v = v.slice(1, -1);
    return { key, values: v === '' ? [] : v.split(',') };
  });
}

/**
 * Blocks are separated by blank lines: comment lines (#), one command line,
 * `----`, then the expected output (no blank lines inside).
 */
export function parse(text: string): { cases: TestCase[]; comments: Map<number, string[]> } {
  const lines = text.split('\n');
  const cases: TestCase[] = [];
  const comments = new Map<number, string[]>();
  let i = 0;
  let pending: string[] = [];
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === '') {
      i++;
      continue;
    }
    if (l.startsWith('#')) {
      pending.push(l);
      i++;
      continue;
    }
    const line = i + 1;
    const raw = l.trim();
    i++;
    if (lines[i] !== '----') throw new Error(`line ${line}: expected ---- after command`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!);
    const [cmd, ...words] = raw.split(/\s+/);
    comments.set(cases.length, pending);
    pending = [];
    cases.push({ line, cmd: cmd!, args: parseArgs(words), raw, expected: out.join('\n') });
  }
  return { cases, comments };
}

export function render(cases: readonly TestCase[], comments: Map<number, string[]>, outputs: readonly string[]): string {
  const blocks = cases.map((c, k) => [...(comments.get(k) ?? []), c.raw, '----', outputs[k]!].join('\n'));
  return blocks.join('\n\n') + '\n';
}
