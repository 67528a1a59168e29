// The app the delivery rounds push and publish through, and its creation on a
// cluster that may still be settling.
import type { LongwireProcess } from '../cluster/longwire-process.js';

export const APP = 'jepsen';
export const ADMIN_TOKEN = 'jepsen-admin-token-0123456789';
export const TOKEN_SECRET = 'jepsen-token-secret-0123456789';
export const API_KEY = 'jepsen-api-key-0123456789';

/** Creates the app, retrying while the cluster settles (503 until a leader is known). */
export async function createApp(nodes: readonly LongwireProcess[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = 0;
  while (Date.now() < deadline) {
    for (const n of nodes) {
      const put = await fetch(`${n.apiUrl}/v1/apps/${APP}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: API_KEY, tokenSecret: TOKEN_SECRET, limits: { maxInbox: 100_000, defaultTtl: 3600, maxRedeliveries: 1000 } }),
      }).catch(() => undefined);
      if (put?.status === 200) return;
      last = put?.status ?? -1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`app create: ${last}`);
}
