// The browser entry: the core with the browser's WebSocket and a device id
// kept in localStorage.
import { LongwireClient } from './core/client.js';
import type { ClientOptions } from './core/options.js';
import { localStorageDeviceStore } from './device-store-browser.js';
import { browserTransport } from './transport-browser.js';

export * from './core/mod.js';
export { browserTransport } from './transport-browser.js';

export function createClient(options: ClientOptions): LongwireClient {
  const client = new LongwireClient(options, { transport: browserTransport, deviceStore: localStorageDeviceStore });
  // The browser knows when the network is back: waiting out the backoff then only delays recovery.
  if (typeof addEventListener === 'function') {
    const onOnline = (): void => client.retryNow();
    addEventListener('online', onOnline);
    void client.closed().then(() => removeEventListener('online', onOnline));
  }
  return client;
}
