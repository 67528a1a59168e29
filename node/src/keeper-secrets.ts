// Which keeper keys hold secrets, and what of them the kv API may show.
// Longwire's own secrets (admin token digests, the peer RPC key) live under
// /sys/secrets/: the kv routes neither show nor change them. App configs under
// /sys/apps/ carry an app's apiKey and tokenSecret: shown with those redacted.
import { APPS_PREFIX, redact, type AppConfig } from './apps.js';

export const SECRETS_PREFIX = '/sys/secrets/';
export const REDACTED = '<redacted>';

/** Whether a kv call on `key` (a prefix when `prefix`) would reach a secret. */
export function reachesSecrets(key: string, prefix: boolean): boolean {
  return key.startsWith(SECRETS_PREFIX) || (prefix && SECRETS_PREFIX.startsWith(key));
}

/** Whether the kv API shows values under `key` other than they are (so a transaction may not compare them). */
export function valueHidden(key: string): boolean {
  return key.startsWith(SECRETS_PREFIX) || key.startsWith(APPS_PREFIX);
}

/** The value as the kv API shows it. */
export function shownValue(key: string, value: string): string {
  if (key.startsWith(SECRETS_PREFIX)) return REDACTED;
  if (!key.startsWith(APPS_PREFIX)) return value;
  try {
    const v: unknown = JSON.parse(value);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return value;
    return JSON.stringify(redact(v as AppConfig));
  } catch {
    return value;
  }
}
