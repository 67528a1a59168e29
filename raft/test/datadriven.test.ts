// Datadriven scripts in raft/testdata/*.txt: each command's output is
// compared with the expected text below it. UPDATE=1 rewrites the files.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Cluster } from './helpers/cluster.js';
import { run } from './datadriven/interaction.js';
import { parse, render } from './datadriven/parse.js';

// dist/raft/test -> raft/testdata
const dir = fileURLToPath(new URL('../../../raft/testdata/', import.meta.url));
const update = process.env['UPDATE'] === '1';

for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`datadriven ${file}`, () => {
    const path = join(dir, file);
    const { cases, comments } = parse(readFileSync(path, 'utf8'));
    const c = new Cluster();
    const outputs: string[] = [];
    for (const tc of cases) {
      const got = run(c, tc);
      outputs.push(got);
      if (!update) assert.equal(got, tc.expected, `${file}:${tc.line}: ${tc.raw}`);
    }
    if (update) writeFileSync(path, render(cases, comments, outputs));
  });
}
