// The browser entry: the core with the browser's WebSocket and a device id
// kept in localStorage.
import { LongwireClient } from './core/client.js';
import type { ClientOptions } from './core/options.js';
import { localStorageDeviceStore } from './device-store-browser.js';
import { browserTransport } from './transport-browser.js';

export * from './core/mod.js';
export { browserTransport } from './transport-browser.js';

export function createClient(options: ClientOptions): LongwireClient {
  return new LongwireClient(options, { transport: browserTransport, deviceStore: localStorageDeviceStore });
}
