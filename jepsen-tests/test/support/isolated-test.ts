// A node:test test that runs inside a network namespace of its own when this
// machine can make one (cluster/netns.ts): the test file re-executes itself
// there (`node <file>` runs its tests and exits non-zero on a failure), and the
// outer test passes when that run passed. Without namespaces the body runs
// here, on the host's loopback (and the host's iptables, in chains of its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { insideNetns, netnsAvailable, runInNetns, type NetnsChild } from '../../cluster/netns.js';

export interface IsolatedTestOptions {
  /** The test file's import.meta.url. */
  readonly file: string;
  /** Checks made outside the namespace once the inner run passed (e.g. that the host was not touched). */
  readonly after?: (child: NetnsChild) => void;
}

export function isolatedTest(name: string, o: IsolatedTestOptions, body: () => Promise<void>): void {
  if (insideNetns() || !netnsAvailable().ok) {
    test(name, body);
    return;
  }
  test(`${name} [in a network namespace]`, async () => {
    const child = await runInNetns([fileURLToPath(o.file)], 'pipe');
    assert.equal(child.code, 0, `the run in the namespace failed:\n${child.output}`);
    o.after?.(child);
  });
}
