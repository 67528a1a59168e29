// Polling for the tests that run members on real timers and disks.
import assert from 'node:assert/strict';

/** Polls until `cond` holds; a wall-clock bound, generous for a loaded machine with a slow fsync. */
export async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
