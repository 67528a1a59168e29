// A small datadriven runner in the style of cockroachdb/datadriven as etcd
// uses it: a script of commands, each followed by `----` and its expected
// output. UPDATE=1 rewrites the expected output from the actual one, so a
// change in behaviour shows up as a diff of the testdata file.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

export interface Case {
  readonly line: number;
  readonly command: string;
  readonly name: string;
  readonly positional: readonly string[];
  readonly args: ReadonlyMap<string, string>;
}

type Segment = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'case'; readonly c: Case; readonly expected: string };

export const testdataDir = new URL('../../../keeper/testdata/', import.meta.url);

export function testdataFiles(suffix: string): string[] {
  return readdirSync(testdataDir)
    .filter((f) => f.endsWith(suffix))
    .sort();
}

function parse(text: string, file: string): Segment[] {
  const lines = text.split('\n');
  const out: Segment[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      out.push({ kind: 'text', text: line });
      i += 1;
      continue;
    }
    assert.equal(lines[i + 1], '----', `${file}:${i + 2}: expected ---- after the command`);
    const expected: string[] = [];
    let j = i + 2;
    while (j < lines.length && (lines[j] ?? '') !== '') {
      expected.push(lines[j] ?? '');
      j += 1;
    }
    out.push({ kind: 'case', c: parseCommand(line, i + 1), expected: expected.join('\n') });
    i = j;
  }
  return out;
}

function parseCommand(command: string, line: number): Case {
  const [name = '', ...words] = command.trim().split(/\s+/);
  const positional: string[] = [];
  const args = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) args.set(w.slice(0, eq), w.slice(eq + 1));
    else positional.push(w === '""' ? '' : w);
  }
  return { line, command, name, positional, args };
}

/** Runs every case of `file` through `run` (a fresh one per file from `setup`); compares or, with UPDATE=1, rewrites. */
export function runFile(file: string, setup: () => (c: Case) => string): void {
  const url = new URL(file, testdataDir);
  const segments = parse(readFileSync(url, 'utf8'), file);
  const run = setup();
  const update = process.env['UPDATE'] === '1';
  const rewritten: string[] = [];
  for (const seg of segments) {
    if (seg.kind === 'text') {
      rewritten.push(seg.text);
      continue;
    }
    const actual = run(seg.c).trimEnd() || 'ok';
    assert.ok(!actual.split('\n').some((l) => l.trim() === ''), `${file}:${seg.c.line}: output must not contain blank lines`);
    rewritten.push(seg.c.command, '----', actual);
    if (!update) assert.equal(actual, seg.expected, `${file}:${seg.c.line}: ${seg.c.command}`);
  }
  if (update) writeFileSync(url, rewritten.join('\n'));
}

export function intArg(c: Case, key: string): number | undefined {
  const v = c.args.get(key);
  if (v === undefined) return undefined;
  const n = Number(v);
  assert.ok(Number.isSafeInteger(n), `${c.line}: ${key}=${v} is not an integer`);
  return n;
}

export function pos(c: Case, i: number): string {
  const v = c.positional[i];
  assert.ok(v !== undefined, `line ${c.line}: ${c.name} needs argument ${i + 1}`);
  return v;
}
