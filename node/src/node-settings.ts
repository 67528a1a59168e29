// Node settings held in the keeper at /sys/settings/node as a JSON object of
// overrides on the defaults (any GatewaySettings key). Every node watches the
// key and applies a change live; a malformed value is logged and ignored, so a
// bad write cannot take a node down.
import type { Keeper, Watcher, WatchMessage } from '../../keeper/src/keeper.js';
import { IpPolicy, IpPolicyError } from './ip-policy.js';
import type { Logger } from './logger.js';
import type { GatewaySettings } from './settings.js';

export const NODE_SETTINGS_KEY = '/sys/settings/node';

const NUMERIC: readonly (keyof GatewaySettings)[] = [
  'heartbeatSeconds',
  'heartbeatGraceMs',
  'helloTimeoutMs',
  'sendQueueBytesMax',
  'sendQueueMsgsMax',
  'clientFramesPerSecond',
  'inflightMsgsMax',
  'connectionsMax',
  'connectionsPerAddressMax',
  'connectionsPerAddressPerSecond',
  'lingerMs',
  'upstreamStrikesMax',
];

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Validates an override object; returns the merged settings or throws SettingsError. */
export function mergeSettings(base: GatewaySettings, raw: unknown): { settings: GatewaySettings; ipPolicy: IpPolicy } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SettingsError('node settings must be a JSON object');
  const o = raw as Record<string, unknown>;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(o)) {
    if ((NUMERIC as readonly string[]).includes(k)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new SettingsError(`${k} must be a positive number`);
      out[k] = v;
    } else if (k === 'ipAllow' || k === 'ipDeny') {
      if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new SettingsError(`${k} must be an array of CIDR strings`);
      out[k] = v;
    } else {
      throw new SettingsError(`unknown or read-only node setting ${k}`);
    }
  }
  const settings = out as unknown as GatewaySettings;
  try {
    return { settings, ipPolicy: new IpPolicy(settings.ipAllow, settings.ipDeny) };
  } catch (err) {
    if (err instanceof IpPolicyError) throw new SettingsError(err.message);
    throw err;
  }
}

export class NodeSettings {
  private current: GatewaySettings;
  private policy: IpPolicy;
  private watcher: Watcher | undefined;

  constructor(
    private readonly base: GatewaySettings,
    private readonly keeper: Keeper,
    private readonly log: Logger,
  ) {
    this.current = base;
    this.policy = new IpPolicy(base.ipAllow, base.ipDeny);
  }

  get gateway(): GatewaySettings {
    return this.current;
  }

  get ipPolicy(): IpPolicy {
    return this.policy;
  }

  async start(): Promise<void> {
    const r = await this.keeper.range(NODE_SETTINGS_KEY);
    const kv = r.kvs[0];
    this.apply(kv?.value);
    this.watcher = this.keeper.watch({ key: NODE_SETTINGS_KEY, fromRevision: r.revision + 1 }, (m) => this.onWatch(m));
  }

  private onWatch(m: WatchMessage): void {
    if (m.kind === 'events') {
      for (const e of m.events) this.apply(e.type === 'put' ? e.value : undefined);
    } else if (m.kind === 'compacted' || (m.kind === 'cancelled' && m.reason === 'slow')) {
      this.watcher?.cancel();
      void this.start();
    }
  }

  private apply(value: string | undefined): void {
    if (value === undefined) {
      this.current = this.base;
      this.policy = new IpPolicy(this.base.ipAllow, this.base.ipDeny);
      return;
    }
    try {
      const m = mergeSettings(this.base, JSON.parse(value) as unknown);
      this.current = m.settings;
      this.policy = m.ipPolicy;
      this.log.info({ settings: m.settings }, 'node settings applied');
    } catch (err) {
      this.log.error({ err }, 'ignoring invalid node settings');
    }
  }

  close(): void {
    this.watcher?.cancel();
  }
}
