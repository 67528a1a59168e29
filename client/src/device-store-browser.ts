// Keeps the generated device id in localStorage, so a page reload resumes the
// same server-side cursor. Storage may be missing or throw (private mode,
// sandboxed iframes): then the id lives as long as the page.
import type { DeviceStore } from './core/device-id.js';

export const DEVICE_STORAGE_KEY = 'longwire.device';

export const localStorageDeviceStore: DeviceStore = {
  load() {
    try {
      return globalThis.localStorage?.getItem(DEVICE_STORAGE_KEY) ?? undefined;
    } catch {
      return undefined;
    }
  },
  save(id) {
    try {
      globalThis.localStorage?.setItem(DEVICE_STORAGE_KEY, id);
    } catch {
      // No storage: the id is not kept across reloads.
    }
  },
};
