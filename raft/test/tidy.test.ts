// After TigerBeetle's tidy.zig: the core must stay deterministic. Time,
// randomness and asynchrony enter only through the shell.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../../raft/src/', import.meta.url));

/** I/O shell files, allowed to use the clock and await. Listed one by one. */
const EXEMPT: ReadonlySet<string> = new Set([
  'storage/level-storage.ts',
  'transport/peer-link.ts',
  'transport/inbound-link.ts',
  'transport/tcp-transport.ts',
  'shell/raft-shell.ts',
  'shell/raft-worker.ts',
  'shell/raft-worker-host.ts',
]);

const BANNED: readonly { pattern: RegExp; replacement: string }[] = [
  { pattern: /\bDate\.now\b/, replacement: 'logical time: count tick() calls' },
  { pattern: /\bMath\.random\b/, replacement: 'the injected Rng (config.rng)' },
  { pattern: /\bsetTimeout\b/, replacement: 'tick() driven by the shell' },
  { pattern: /\bsetInterval\b/, replacement: 'tick() driven by the shell' },
  { pattern: /\bperformance\.now\b/, replacement: 'logical time: count tick() calls' },
  { pattern: /\bprocess\.hrtime\b/, replacement: 'logical time: count tick() calls' },
  { pattern: /\bawait\b/, replacement: 'a synchronous step; the shell owns promises' },
  { pattern: /\bPromise\b/, replacement: 'a synchronous step; the shell owns promises' },
  { pattern: /\bnew Date\b/, replacement: 'logical time: count tick() calls' },
];

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('tidy: raft/src has no clock, randomness or await outside the listed I/O shell files', () => {
  const problems: string[] = [];
  for (const file of walk(root, [])) {
    const rel = relative(root, file).split('\\').join('/');
    if (EXEMPT.has(rel)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const b of BANNED) {
          if (b.pattern.test(line)) problems.push(`raft/src/${rel}:${i + 1}: ${b.pattern.source} -> use ${b.replacement}`);
        }
      });
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('tidy: raft/src has no TODO, FIXME, any or enum', () => {
  const problems: string[] = [];
  for (const file of walk(root, [])) {
    const rel = relative(root, file);
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/\b(TODO|FIXME)\b/.test(line)) problems.push(`${rel}:${i + 1}: TODO/FIXME`);
        if (/:\s*any\b|<any>|as any\b/.test(line)) problems.push(`${rel}:${i + 1}: any -> use unknown and narrow`);
        if (/^\s*(export\s+)?(const\s+)?enum\s/.test(line)) problems.push(`${rel}:${i + 1}: enum -> use an as-const object`);
      });
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('tidy: raft/test has no .only or .skip', () => {
  const testRoot = fileURLToPath(new URL('../../../raft/test/', import.meta.url));
  const problems: string[] = [];
  for (const file of walk(testRoot, [])) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/\b(test|describe|it)\.(only|skip)\(|\{\s*(only|skip):\s*true/.test(line)) problems.push(`${relative(testRoot, file)}:${i + 1}`);
      });
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});
