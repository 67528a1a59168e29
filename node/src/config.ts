// `longwire start` configuration: flags, each also an env var LONGWIRE_<FLAG>
// and a key in an optional --config JSON file. Precedence: flag > env > file >
// default. Validated once here; the rest of the node trusts it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface NodeConfig {
  readonly id: string;
  readonly dataDir: string;
  readonly gateway: HostPort;
  readonly api: HostPort;
  readonly peer: HostPort;
  readonly adminToken: string | undefined;
  /** API URL of a member to join through (used only on an empty data dir). */
  readonly join: string | undefined;
  readonly zone: string;
  /** fsync every inbox write before answering: survives power loss, not only kill -9. */
  readonly fsync: boolean;
  readonly heartbeatSeconds: number;
  /** The keeper's space quota: MiB of keys and values it may hold (0: none). The same on every member. */
  readonly keeperQuotaMb: number;
  /** Open connections the API port holds (services, watch streams, peer links); past it new ones are closed at once. */
  readonly apiConnectionsMax: number;
  /** Watch streams (GET /v1/watch) this node serves at once; past it a new one is refused with 429. */
  readonly watchesMax: number;
  /** The keeper's group-commit wait in ms under load (0: none). */
  readonly keeperGroupCommitMs: number;
  /** A topic's offset key leaves the keeper once nobody published to it for this many seconds (0: never). */
  readonly topicIdleS: number;
  readonly logLevel: string;
  readonly prettyLogs: boolean;
  /** Serve wss:// and https:// with this certificate and key (PEM files; re-read on SIGHUP). */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Shared secret peers prove by challenge–response; also what a --join proves. */
  readonly clusterSecret: string | undefined;
  /** Mutual TLS on peer links: the cluster CA and this node's certificate (CN = node id) and key, PEM files. */
  readonly peerTls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string } | undefined;
}

/** A cluster secret shorter than this is refused: it is the whole of the peers' authentication. */
export const CLUSTER_SECRET_CHARS_MIN = 16;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const OPTIONS = {
  config: { type: 'string' },
  id: { type: 'string' },
  'data-dir': { type: 'string' },
  gateway: { type: 'string' },
  api: { type: 'string' },
  peer: { type: 'string' },
  join: { type: 'string' },
  'admin-token': { type: 'string' },
  zone: { type: 'string' },
  'cluster-secret': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'peer-ca': { type: 'string' },
  'peer-cert': { type: 'string' },
  'peer-key': { type: 'string' },
  fsync: { type: 'boolean' },
  heartbeat: { type: 'string' },
  'keeper-quota-mb': { type: 'string' },
  'api-connections-max': { type: 'string' },
  'watches-max': { type: 'string' },
  'keeper-group-commit-ms': { type: 'string' },
  'topic-idle-s': { type: 'string' },
  'log-level': { type: 'string' },
  pretty: { type: 'boolean' },
} as const;
type Flag = keyof typeof OPTIONS;

export function parseHostPort(flag: string, v: string): HostPort {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--${flag} must be host:port, got ${JSON.stringify(v)}`);
  return { host: v.slice(0, i), port };
}

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): NodeConfig {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const flags = parsed.values as Partial<Record<Flag, string | boolean>>;
  let file: Record<string, unknown> = {};
  const path = (flags.config as string | undefined) ?? env.LONGWIRE_CONFIG;
  if (path !== undefined) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot read --config ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const get = (f: Flag): string | boolean | undefined => {
    if (flags[f] !== undefined) return flags[f];
    const e = env[`LONGWIRE_${f.toUpperCase().replaceAll('-', '_')}`];
    if (e !== undefined) return OPTIONS[f].type === 'boolean' ? e === '1' || e === 'true' : e;
    const camel = f.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const v = file[f] ?? file[camel];
    if (v === undefined) return undefined;
    if (typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') return String(v);
    throw new ConfigError(`config key ${f} must be a string or boolean`);
  };
  const str = (f: Flag, d: string): string => {
    const v = get(f);
    return typeof v === 'string' ? v : d;
  };
  const filePath = (f: Flag): string | undefined => {
    const v = get(f);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new ConfigError(`--${f} must be a file path`);
    return v;
  };
  const tlsCert = filePath('tls-cert');
  const tlsKey = filePath('tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
  const peerCa = filePath('peer-ca');
  const peerCert = filePath('peer-cert');
  const peerKey = filePath('peer-key');
  const peerGiven = [peerCa, peerCert, peerKey].filter((v) => v !== undefined).length;
  if (peerGiven !== 0 && peerGiven !== 3) throw new ConfigError('--peer-ca, --peer-cert and --peer-key go together');
  const secret = get('cluster-secret');
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < CLUSTER_SECRET_CHARS_MIN)) {
    throw new ConfigError(`--cluster-secret must be at least ${CLUSTER_SECRET_CHARS_MIN} characters`);
  }
  const id = str('id', 'n1');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) throw new ConfigError(`--id must match [A-Za-z0-9._-], got ${JSON.stringify(id)}`);
  const join = get('join');
  const adminToken = get('admin-token');
  if (join !== undefined && typeof join !== 'string') throw new ConfigError('--join must be an API URL');
  if (typeof join === 'string' && !/^https?:\/\/[^/]+/.test(join)) throw new ConfigError(`--join must be an API URL like http://host:port, got ${JSON.stringify(join)}`);
  if (typeof join === 'string' && typeof adminToken !== 'string' && secret === undefined && peerGiven === 0) {
    throw new ConfigError('--join needs --cluster-secret or --peer-cert (or, in development without either, --admin-token)');
  }
  const heartbeatSeconds = Number(str('heartbeat', '25'));
  if (!Number.isInteger(heartbeatSeconds) || heartbeatSeconds < 1 || heartbeatSeconds > 3600) throw new ConfigError('--heartbeat must be 1..3600 seconds');
  const keeperQuotaMb = Number(str('keeper-quota-mb', '256'));
  // Every member holds the whole store in memory: more than 16 GiB is not a quota.
  if (!Number.isInteger(keeperQuotaMb) || keeperQuotaMb < 0 || keeperQuotaMb > 16_384) throw new ConfigError('--keeper-quota-mb must be 0..16384 (0: no quota)');
  const apiConnectionsMax = Number(str('api-connections-max', '10000'));
  if (!Number.isInteger(apiConnectionsMax) || apiConnectionsMax < 1 || apiConnectionsMax > 1_000_000) throw new ConfigError('--api-connections-max must be 1..1000000');
  const watchesMax = Number(str('watches-max', '1000'));
  if (!Number.isInteger(watchesMax) || watchesMax < 1 || watchesMax > 100_000) throw new ConfigError('--watches-max must be 1..100000');
  const keeperGroupCommitMs = Number(str('keeper-group-commit-ms', '1'));
  // Past an election timeout's worth a wait would cost leadership under load.
  if (!Number.isInteger(keeperGroupCommitMs) || keeperGroupCommitMs < 0 || keeperGroupCommitMs > 20) throw new ConfigError('--keeper-group-commit-ms must be 0..20 (0: no wait)');
  const topicIdleS = Number(str('topic-idle-s', '86400'));
  if (!Number.isInteger(topicIdleS) || topicIdleS < 0 || topicIdleS > 365 * 86400) throw new ConfigError('--topic-idle-s must be 0..31536000 (0: keep topic keys)');
  return {
    id,
    dataDir: str('data-dir', `./data/${id}`),
    gateway: parseHostPort('gateway', str('gateway', '127.0.0.1:7800')),
    api: parseHostPort('api', str('api', '127.0.0.1:7801')),
    peer: parseHostPort('peer', str('peer', '127.0.0.1:7802')),
    adminToken: typeof adminToken === 'string' ? adminToken : undefined,
    join: typeof join === 'string' ? join : undefined,
    zone: str('zone', 'default'),
    fsync: get('fsync') === true,
    heartbeatSeconds,
    keeperQuotaMb,
    apiConnectionsMax,
    watchesMax,
    keeperGroupCommitMs,
    topicIdleS,
    logLevel: str('log-level', 'info'),
    prettyLogs: get('pretty') === true,
    tls: tlsCert === undefined || tlsKey === undefined ? undefined : { certFile: tlsCert, keyFile: tlsKey },
    clusterSecret: typeof secret === 'string' ? secret : undefined,
    peerTls: peerCa === undefined || peerCert === undefined || peerKey === undefined ? undefined : { caFile: peerCa, certFile: peerCert, keyFile: peerKey },
  };
}
