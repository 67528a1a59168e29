// The `data` of each upstream call: about 100 bytes of JSON carrying the send
// time, identical for both targets, and the webhook body the node builds
// around it (coordinator.ts), which the direct baseline builds the same way.
export interface UpData {
  readonly ts: number;
  readonly n: number;
  readonly pad: string;
}

const PAD = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklm';

export function upData(ts: number, n: number): UpData {
  return { ts, n, pad: PAD };
}

export function isUpData(v: unknown): v is UpData {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.ts === 'number' && typeof o.n === 'number' && typeof o.pad === 'string';
}

export interface WebhookBody {
  readonly app: string;
  readonly user: string;
  readonly device: string;
  readonly session: string;
  readonly id: string;
  readonly data: UpData;
}
