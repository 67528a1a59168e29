// The script the browser test loads next to the bundle: it drives the SDK
// inside the page and exposes small calls for page.evaluate.
export const PAGE_SCRIPT = `
import { createClient, UpstreamError } from '/client.js';
const state = { client: undefined, got: [], statuses: [] };
globalThis.lwTest = {
  async start(opts) {
    state.got = [];
    state.statuses = [];
    state.client = createClient({ dispatchUrl: opts.dispatchUrl, protocol: opts.protocol, getToken: () => opts.token });
    state.client.onStatus((s) => state.statuses.push(s.type));
    await state.client.bind(opts.app, async (m) => {
      await new Promise((r) => setTimeout(r, 1));
      state.got.push({ seq: m.seq, data: m.data });
    });
    return state.client.device;
  },
  got: () => state.got,
  statuses: () => state.statuses,
  up: (app, data) => state.client.up(app, data),
  async upError(app, data) {
    try {
      await state.client.up(app, data);
      return 'resolved';
    } catch (e) {
      return e instanceof UpstreamError ? 'UpstreamError:' + e.code : String(e);
    }
  },
  close: () => state.client.close().then(() => 'closed'),
};
`;

export const PAGE_HTML = '<!doctype html><meta charset="utf-8"><title>longwire</title><script type="module" src="/test.js"></script>';
