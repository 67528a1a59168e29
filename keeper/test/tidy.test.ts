// Tidy (after TigerBeetle's src/tidy.zig): the keeper's core must stay a pure
// function of the log. Clocks, randomness, timers and awaits belong in the
// shell files listed below; anywhere else the test fails and names the
// replacement.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

/** The shell: the only files that may read clocks, use timers, draw random ids and await I/O (keeper-client.ts, keeper-wire-link.ts, lease-keepalive.ts and keeper-lock.ts are the client of the API, not part of the state machine). */
export const SHELL_FILES = ['raft-keeper.ts', 'raft-link.ts', 'raft-worker.ts', 'keeper-client.ts', 'keeper-wire-link.ts', 'lease-keepalive.ts', 'keeper-lock.ts', 'restore-backup.ts'] as const;

const srcDir = new URL('../../../keeper/src/', import.meta.url);
const testDir = new URL('../../../keeper/test/', import.meta.url);

const BANNED: readonly { readonly pattern: RegExp; readonly name: string; readonly instead: string }[] = [
  { pattern: /\bDate\.now\b|\bnew Date\(/, name: 'Date.now', instead: 'inject a clock (the shell reads it) or pass time in the command (its `now` field)' },
  { pattern: /\bperformance\.now\b/, name: 'performance.now', instead: 'inject a clock or pass time in the command' },
  { pattern: /\bprocess\.hrtime\b/, name: 'process.hrtime', instead: 'inject a clock or pass time in the command' },
  { pattern: /\bMath\.random\b|\brandomBytes\b|\brandomUUID\b/, name: 'Math.random', instead: 'let the proposer choose (ids travel in the command) or take a seeded Rng' },
  { pattern: /\bsetTimeout\b/, name: 'setTimeout', instead: 'timers live in the shell, which proposes a command (e.g. leaseExpire) when they fire' },
  { pattern: /\bsetInterval\b/, name: 'setInterval', instead: 'timers live in the shell, which proposes a command (e.g. leaseExpire) when they fire' },
  { pattern: /\bsetImmediate\b/, name: 'setImmediate', instead: 'take a schedule function as an option (as WatchHub does)' },
  { pattern: /\bawait\b/, name: 'await', instead: 'keep the core synchronous: do the I/O in the shell and pass its result in' },
];

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

function tsFiles(dir: URL): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
}

test('tidy: the keeper core reads no clock, draws no randomness, sets no timer, awaits nothing', () => {
  const core = tsFiles(srcDir).filter((f) => !(SHELL_FILES as readonly string[]).includes(f));
  assert.ok(core.includes('state-machine.ts') && core.includes('watch-hub.ts'), 'tidy: scanning the wrong directory');
  const problems: string[] = [];
  for (const file of core) {
    const lines = stripComments(readFileSync(new URL(file, srcDir), 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const b of BANNED) if (b.pattern.test(line)) problems.push(`keeper/src/${file}:${i + 1}: ${b.name} in the pure core; instead, ${b.instead}`);
    });
  }
  assert.deepEqual(problems, [], `\n${problems.join('\n')}\n(shell files, where these are allowed: ${SHELL_FILES.join(', ')})`);
});

test('tidy: the shell file list names files that exist', () => {
  const all = tsFiles(srcDir);
  for (const f of SHELL_FILES) assert.ok(all.includes(f), `tidy: listed shell file ${f} is missing from keeper/src`);
});

test('tidy: no focused or skipped tests, no to-do markers, no any, no enum', () => {
  // Built from parts so that this file does not match itself.
  const focus = new RegExp(['\\.', 'only\\(|\\.', 'skip\\(|', 'on', 'ly: true|', 'sk', 'ip: true'].join(''));
  const todo = new RegExp(['TO', 'DO|FIX', 'ME'].join(''));
  const anyType = new RegExp([':\\s*a', 'ny\\b|\\bas a', 'ny\\b|<a', 'ny>'].join(''));
  const enumDecl = new RegExp(['^\\s*(export\\s+)?(const\\s+)?e', 'num\\s'].join(''), 'm');
  const problems: string[] = [];
  for (const [dir, name] of [[srcDir, 'src'], [testDir, 'test']] as const) {
    for (const file of tsFiles(dir)) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      if (focus.test(text)) problems.push(`keeper/${name}/${file}: focused or skipped test`);
      if (todo.test(text)) problems.push(`keeper/${name}/${file}: a to-do marker (name an owner in an issue instead)`);
      if (anyType.test(stripComments(text))) problems.push(`keeper/${name}/${file}: the any type (use unknown and narrow)`);
      if (enumDecl.test(text)) problems.push(`keeper/${name}/${file}: enum (use an as const object)`);
    }
  }
  assert.deepEqual(problems, []);
});
