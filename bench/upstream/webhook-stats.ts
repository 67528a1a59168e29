// What the webhook server process reports: its port once listening, and its
// counters (GET /stats while running, one stdout line on SIGTERM).
export const PORT_PREFIX = 'WEBHOOK-PORT ';
export const COUNT_PREFIX = 'WEBHOOK-COUNT ';

export interface WebhookStats {
  readonly requests: number;
  readonly ok: number;
  readonly badSignature: number;
  readonly badBody: number;
}

export function isWebhookStats(v: unknown): v is WebhookStats {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.requests === 'number' && typeof o.ok === 'number' && typeof o.badSignature === 'number' && typeof o.badBody === 'number';
}
