// The admin page (/ui) in headless Chromium against a real node: it asks for
// the admin token, then shows the cluster's members with this node's
// connection count, and follows changes (a client connects, a broadcast runs)
// through its 2 s refresh. Takes a screenshot (docs/admin-ui.png with UPDATE=1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { NodeProcess } from './support/node-process.js';
import { createApp } from './support/ws-client.js';
import { openBound, roundTrip } from './support/contract.js';

const CHROMIUM = '/usr/bin/chromium';
/** dist/node/test → the repository's docs/ */
// docs/admin-ui.png is rewritten only with UPDATE=1, so `npm test` leaves the tree clean.
const SCREENSHOT =
  process.env.UPDATE === '1' ? fileURLToPath(new URL('../../../docs/admin-ui.png', import.meta.url)) : join(tmpdir(), `longwire-admin-ui-${process.pid}.png`);
/** Long enough for a few 2 s refreshes. */
const UPDATE_WAIT_MS = 15_000;

test('the admin page shows the member, its connections and app counts, and updates after a client connects', async () => {
  const node = await NodeProcess.start();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${node.apiUrl}/ui`);
    assert.equal(await page.title(), 'longwire admin');

    await page.fill('#token', node.adminToken);
    await page.click('#token-form button');
    const member = page.locator('#members tr[data-member="n1"]');
    await member.waitFor({ timeout: UPDATE_WAIT_MS });
    assert.match(await member.innerText(), /leader/);
    assert.equal(await member.locator('td.connections').innerText(), '0');
    assert.equal(await page.locator('#leader').innerText(), 'n1');
    assert.equal(await page.locator('#member-count').innerText(), '1');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('longwire.adminToken')), node.adminToken);

    // A change: an app gets a connected client and a broadcast job.
    const app = await createApp(node, 'uiapp');
    const { s } = await openBound(node, app, 'ui-device', 'ui-user');
    // Frames are handled in order: the pong means the bind has finished starting delivery.
    await roundTrip(s);
    const b = await node.api('POST', `/v1/apps/${app.app}/broadcast`, { token: app.apiKey, body: { data: { hello: 'everyone' } } });
    assert.equal(b.status, 202);
    await page.waitForFunction(
      () => document.querySelector('#members tr[data-member="n1"] td.connections')?.textContent === '1',
      undefined,
      { timeout: UPDATE_WAIT_MS },
    );
    await page.locator('#apps tr[data-app="uiapp"]').waitFor({ timeout: UPDATE_WAIT_MS });
    assert.match(await page.locator('#apps tr[data-app="uiapp"]').innerText(), /uiapp\s+1/);
    const job = page.locator('#broadcasts tr[data-job]');
    await job.first().waitFor({ timeout: UPDATE_WAIT_MS });
    await page.waitForFunction(() => document.querySelector('#broadcasts tr[data-job]')?.textContent?.includes('done') === true, undefined, { timeout: UPDATE_WAIT_MS });
    assert.match(await job.first().innerText(), /uiapp[\s\S]*done[\s\S]*1 \/ 1/);
    assert.equal(await page.locator('#leader-changes tbody tr').count(), 1);
    assert.deepEqual(errors, []);

    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    if (process.env.UPDATE !== '1') await rm(SCREENSHOT, { force: true });

    // A bad token shows the API's error instead of stale data passing for fresh.
    await page.fill('#token', 'wrong-token');
    await page.click('#token-form button');
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('unauthorized') === true, undefined, { timeout: UPDATE_WAIT_MS });
    s.ws.close();
    await s.closed;
  } finally {
    await browser?.close();
    await node.stop();
  }
});
