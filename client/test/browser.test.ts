// The browser entry, bundled by esbuild for the browser (a Node-only import
// must fail the build) and run in headless Chromium against a test node (the
// in-test fake, or a real node with LONGWIRE_E2E_NODE). The page is served
// from another origin than the gateway, so the dispatcher must allow CORS.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { build, type Plugin } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { PAGE_HTML, PAGE_SCRIPT } from './support/browser-page.js';
import { startTestNode, type TestNode } from './support/test-node.js';

const SRC = fileURLToPath(new URL('../../../client/src/', import.meta.url));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const NODE_ONLY = new Set(['ws', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Fails the build on any Node-only import, including `ws`, whose browser stub would otherwise slip through. */
const browserOnly: Plugin = {
  name: 'browser-only',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => (NODE_ONLY.has(args.path) ? { errors: [{ text: `Node-only import "${args.path}" in the browser bundle` }] } : undefined));
  },
};

async function bundle(entry: string): Promise<string> {
  const r = await build({ entryPoints: [`${SRC}${entry}`], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', plugins: [browserOnly] });
  const out = r.outputFiles[0];
  assert.ok(out !== undefined);
  return out.text;
}

describe('browser bundle', () => {
  let code = '';
  let page: Server;
  let browser: Browser;
  let node: TestNode;

  before(async () => {
    code = await bundle('browser.ts');
    page = createServer((req, res) => {
      const body = req.url === '/client.js' ? code : req.url === '/test.js' ? PAGE_SCRIPT : PAGE_HTML;
      res.writeHead(200, { 'content-type': req.url?.endsWith('.js') === true ? 'text/javascript' : 'text/html' }).end(body);
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    node = await startTestNode();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser.close();
    await node.close();
    await new Promise<void>((resolve) => page.close(() => resolve()));
  });

  test('browser.ts bundles without Node-only modules; the Node transport does not', async () => {
    assert.ok(code.length > 0);
    await assert.rejects(bundle('transport-node.ts'), /Node-only import "ws"/);
    await assert.rejects(bundle('index.ts'), /Node-only import/);
  });

  for (const protocol of ['json', 'msgpack'] as const) {
    test(`${protocol}: connects through the dispatcher, delivers, acks, answers up, and a reload resumes with the same device`, async () => {
      const ctx = await browser.newContext();
      const tab = await ctx.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      const user = `b-${randomUUID()}`;
      const opts = JSON.stringify({ dispatchUrl: node.dispatchUrl, protocol, token: node.token(user), app: node.app });
      await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`);
      await tab.waitForFunction('globalThis.lwTest !== undefined');
      const device = await tab.evaluate<string>(`lwTest.start(${opts})`);
      assert.match(device, /^d-[0-9a-f]{32}$/);
      const s1 = await node.push(user, { n: 1 });
      const s2 = await node.push(user, 'two');
      await tab.waitForFunction('lwTest.got().length === 2', undefined, { timeout: 5000 });
      assert.deepEqual(await tab.evaluate('lwTest.got()'), [
        { seq: s1, data: { n: 1 } },
        { seq: s2, data: 'two' },
      ]);
      assert.deepEqual(await tab.evaluate(`lwTest.up(${JSON.stringify(node.app)}, { q: 'hi' })`), { echo: { q: 'hi' } });
      assert.match(await tab.evaluate<string>(`lwTest.upError(${JSON.stringify(node.app)}, { fail: true })`), /^UpstreamError:/);
      assert.deepEqual(await tab.evaluate('lwTest.statuses()'), ['connecting', 'connected', 'bound']);
      await new Promise((r) => setTimeout(r, 50)); // let the ack reach the node
      assert.equal(await tab.evaluate('lwTest.close()'), 'closed');

      const s3 = await node.push(user, 3);
      await tab.reload();
      await tab.waitForFunction('globalThis.lwTest !== undefined');
      assert.equal(await tab.evaluate<string>(`lwTest.start(${opts})`), device, 'device id kept in localStorage');
      await tab.waitForFunction('lwTest.got().length >= 1', undefined, { timeout: 5000 });
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await tab.evaluate('lwTest.got()'), [{ seq: s3, data: 3 }], 'resumed after the acked seq');
      await tab.evaluate('lwTest.close()');
      assert.deepEqual(errors, []);
      await ctx.close();
    });
  }
});
