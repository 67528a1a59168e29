// A device id names one installation, so the server keeps one cursor per
// device. Given by the app, or generated once and kept in a DeviceStore
// (localStorage in browsers) so a reload resumes from the same cursor.

export interface DeviceStore {
  load(): string | undefined;
  save(id: string): void;
}

/** 128 random bits in hex; getRandomValues works in insecure browser contexts too, unlike randomUUID. */
export function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function resolveDeviceId(explicit: string | undefined, store: DeviceStore | undefined): string {
  if (explicit !== undefined) return explicit;
  const kept = store?.load();
  if (kept !== undefined && kept !== '') return kept;
  const id = `d-${randomHex(16)}`;
  store?.save(id);
  return id;
}
