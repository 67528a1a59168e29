// The `longwire` command: start a node, run the demo, push, broadcast, manage apps, show status.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError, loadConfig, type NodeConfig } from './config.js';
// The node (Fastify, LevelDB, the keeper) is imported only by the commands that run one,
// so API commands such as `status` start fast.
import type { RunningNode } from './node.js';
import { DEFAULT_API_URL, apiCall, broadcast, describe, describePush, output, status } from './cli-api.js';
import { adminTokens, keeperCommand, kv, leases, members } from './cli-cluster.js';

const USAGE = `longwire — a long-connection push cluster

  longwire start [--id n1] [--data-dir DIR] [--gateway H:P] [--api H:P] [--peer H:P]
                 [--admin-token T] [--zone Z] [--fsync] [--heartbeat SECONDS] [--config FILE]
                 [--keeper-quota-mb MB]               keeper space quota (default 256; 0: none)
                 [--api-connections-max N]            open API connections held (default 10000)
                 [--watches-max N]                    watch streams served at once (default 1000)
                 [--keeper-group-commit-ms N]         under load, gather proposals this long per synced write (0..20, default 1)
                 [--topic-idle-s N]                   delete a topic's offset key from the keeper after N s without a publish (default 86400; 0: never)
                 [--tls-cert FILE --tls-key FILE]   wss:// and https:// (SIGHUP re-reads them)
                 [--cluster-secret S] [--peer-ca FILE --peer-cert FILE --peer-key FILE]   peer authentication (SIGHUP re-reads)
                 [--join API_URL]                     join the cluster of that member (proves it with the
                                                      cluster secret or peer certificate; dev: --admin-token)
  longwire certs [--out DIR] [--nodes n1,n2,n3] [--hosts 127.0.0.1,localhost] [--days N]
                                       a development CA and node certificates (CN = node id)
  longwire admin-tokens list | create [--label L] [--read PREFIX]... [--write PREFIX]... | revoke ID
                                       rotate admin tokens without restart; --read/--write: a token scoped to keeper keys
  longwire demo                        one node with a demo app; prints keys and examples
  longwire status [--admin-token T] [--api URL] [--json]      cluster members, leader, this node's counters
  longwire push --app A --key APIKEY --user U [--user U2…] --data JSON [--qos 0|1] [--ttl S] [--id K] [--api URL] [--json]
  longwire broadcast --app A --key APIKEY --data JSON [--ttl S] [--rate N] [--api URL] [--json]
                                       starts a broadcast and shows its progress until it is done
  longwire apps put NAME --api-key K --token-secret S [--webhook URL] [--admin-token T] [--api URL] [--json]
  longwire apps get NAME [--admin-token T] [--api URL] [--json]
  longwire apps list [--admin-token T] [--api URL] [--json]
  longwire token --app A --secret S --user U [--ttl SECONDS]   mint a client token (HS256 JWT)
  longwire members list|transfer-leader [--to ID]             Raft members, roles, health; move leadership
  longwire members add ID --peer H:P --member-api H:P --gateway H:P [--zone Z]
  longwire members remove ID
  longwire kv get KEY [--prefix [--limit N] [--after KEY] [--keys-only] [--count]] [--revision R] [--serializable]
  longwire kv put KEY VALUE [--lease ID] [--if-mod-revision N]
  longwire kv del KEY [--prefix] | watch KEY [--prefix] [--from-revision N] [--prev-kv]
  longwire kv txn FILE|- [--serializable]   a transaction: POST /v1/txn's JSON body from a file or stdin
  longwire leases list [--limit N] [--after ID] | get ID   leases: time left, sessions, keys
  longwire keeper backup FILE          save the keeper's state (holds secrets: kept owner-only)
  longwire keeper hash                 every member's digest of its keys at one revision: exits 1 unless they agree
  longwire keeper restore FILE --data-dir DIR --id ID   into an empty data dir: a new one-member cluster
                                       (members, kv, leases and keeper backup take [--admin-token T] [--api URL] [--json])

Every start flag is also an env var LONGWIRE_<FLAG> and a key of the --config JSON file.
--admin-token defaults to $LONGWIRE_ADMIN_TOKEN; --api defaults to ${DEFAULT_API_URL}.
Commands that call the API print text for people; with --json they print the API's JSON
(one document on stdout) for scripts. A failed call exits 1, a bad command line 2.`;

function fail(message: string): never {
  process.stderr.write(`longwire: ${message}\n`);
  process.exit(2);
}

/** A graceful stop that takes longer than this exits with status 1 (the stores recover on the next start). */
export const SHUTDOWN_MS_MAX = 10_000;

function runUntilSignal(node: RunningNode, cfg: NodeConfig): void {
  let signals = 0;
  const onSignal = (sig: string): void => {
    signals++;
    if (signals > 1) {
      node.log.warn({ signal: sig }, 'second signal: exiting at once');
      process.exit(1);
    }
    node.log.info({ signal: sig }, 'shutting down: draining clients, flushing cursors and the saver (send again to exit at once)');
    setTimeout(() => {
      node.log.error({ timeoutMs: SHUTDOWN_MS_MAX }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_MS_MAX).unref();
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        node.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    if (cfg.tls === undefined && cfg.peerTls === undefined) {
      node.log.error('SIGHUP: nothing to reload (no --tls-cert/--tls-key, no --peer-ca/--peer-cert/--peer-key)');
      return;
    }
    if (cfg.tls !== undefined) {
      try {
        node.reloadTls();
      } catch (err) {
        node.log.error({ err }, 'SIGHUP: TLS reload failed; the previous certificate stays in use');
      }
    }
    if (cfg.peerTls !== undefined) {
      node.reloadPeerTls().catch((err: unknown) => node.log.error({ err }, 'SIGHUP: peer TLS reload failed; the previous certificate stays in use'));
    }
  });
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

async function start(argv: string[]): Promise<void> {
  const cfg = loadConfig(argv, process.env);
  const { startNode } = await import('./node.js');
  const node = await startNode(cfg);
  if (node.adminTokenCreated) process.stderr.write(`admin token (saved in ${cfg.dataDir}/admin-token): ${node.adminToken}\n`);
  runUntilSignal(node, cfg);
}

export async function mintToken(app: string, secret: string, user: string, ttlSeconds: number): Promise<string> {
  return new SignJWT({ app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

async function demo(argv: string[]): Promise<void> {
  const cfg = loadConfig(['--data-dir', './data/demo', '--pretty', '--log-level', 'warn', ...argv], process.env);
  const { startNode } = await import('./node.js');
  const node = await startNode(cfg);
  let app = node.apps.get('demo');
  if (app === undefined) {
    await node.apps.put({
      app: 'demo',
      apiKey: randomBytes(18).toString('base64url'),
      tokenSecret: randomBytes(24).toString('base64url'),
      limits: { pushPerSecond: 0, upstreamPerSecond: 50, maxInbox: 1000, defaultTtl: 86400, maxRedeliveries: 10 },
    });
    app = node.apps.get('demo');
  }
  if (app === undefined) fail('demo app could not be created');
  const token = await mintToken('demo', app.tokenSecret, 'alice', 24 * 3600);
  const api = `http://${cfg.api.host}:${node.apiPort}`;
  const gw = `http://${cfg.gateway.host}:${node.gatewayPort}`;
  process.stdout.write(`
longwire is running: one node (${cfg.id}), data in ${cfg.dataDir}

  gateway   ws://${cfg.gateway.host}:${node.gatewayPort}/ws   (dispatcher: ${gw}/v1/dispatch)
  api       ${api}
  admin     ${node.adminToken ?? '(the cluster\'s: this node joined with a secret or certificate)'}

Demo app "demo":
  apiKey       ${app.apiKey}
  tokenSecret  ${app.tokenSecret}
  token for user "alice" (24 h):
  ${token}

Push to alice (stored until she acks, delivered when she connects):
  curl -s -X POST ${api}/v1/apps/demo/push \\
    -H 'authorization: Bearer ${app.apiKey}' -H 'content-type: application/json' \\
    -d '{"users":["alice"],"data":{"hello":"world"}}'

Connect as alice with the client SDK (Node; the browser build is the same API):
  import { createClient } from 'longwire/client';
  const c = createClient({ dispatchUrl: '${gw}', device: 'laptop', getToken: () => '${token}' });
  await c.bind('demo', (m) => console.log(m.seq, m.data));

Or with any WebSocket tool (subprotocol longwire.v1.json):
  {"t":"hello","device":"d1","apps":[{"app":"demo","token":"<token above>"}]}

Ctrl-C stops the node; data stays in ${cfg.dataDir}.
`);
  runUntilSignal(node, cfg);
}

async function call(method: string, url: string, token: string | undefined, json: boolean, human: (body: unknown) => string, body?: unknown): Promise<void> {
  output(await apiCall(method, url, token, body), json, human);
}

async function push(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      api: { type: 'string', default: DEFAULT_API_URL },
      json: { type: 'boolean', default: false },
      app: { type: 'string' },
      key: { type: 'string' },
      user: { type: 'string', multiple: true },
      data: { type: 'string' },
      qos: { type: 'string' },
      ttl: { type: 'string' },
      id: { type: 'string' },
    },
  });
  if (values.app === undefined || values.key === undefined || values.user === undefined || values.data === undefined) {
    fail('push needs --app, --key, --user and --data');
  }
  let data: unknown;
  try {
    data = JSON.parse(values.data);
  } catch {
    fail('--data must be JSON');
  }
  await call('POST', `${values.api}/v1/apps/${encodeURIComponent(values.app)}/push`, values.key, values.json, describePush, {
    users: values.user,
    data,
    ...(values.qos === undefined ? {} : { qos: Number(values.qos) }),
    ...(values.ttl === undefined ? {} : { ttl: Number(values.ttl) }),
    ...(values.id === undefined ? {} : { id: values.id }),
  });
}

async function apps(argv: string[]): Promise<void> {
  const [verb, ...afterVerb] = argv;
  // `apps list` takes no name: its flags start right after the verb.
  const name = verb === 'list' ? undefined : afterVerb[0];
  const rest = verb === 'list' ? afterVerb : afterVerb.slice(1);
  const { values } = parseArgs({
    args: rest,
    options: {
      api: { type: 'string', default: DEFAULT_API_URL },
      json: { type: 'boolean', default: false },
      'admin-token': { type: 'string', default: process.env.LONGWIRE_ADMIN_TOKEN },
      'api-key': { type: 'string' },
      'token-secret': { type: 'string' },
      webhook: { type: 'string' },
    },
  });
  if (verb === 'list') {
    const names = (b: unknown): string => {
      const all = typeof b === 'object' && b !== null && 'apps' in b && Array.isArray(b.apps) ? (b.apps as unknown[]) : [];
      return all.length === 0 ? '(no apps)' : all.map((a) => describe(a)).join('\n\n');
    };
    return call('GET', `${values.api}/v1/apps`, values['admin-token'], values.json, names);
  }
  if (name === undefined) fail('apps needs an app name');
  const url = `${values.api}/v1/apps/${encodeURIComponent(name)}`;
  if (verb === 'get') return call('GET', url, values['admin-token'], values.json, (b) => describe(b));
  if (verb === 'put') {
    if (values['api-key'] === undefined || values['token-secret'] === undefined) fail('apps put needs --api-key and --token-secret');
    return call('PUT', url, values['admin-token'], values.json, (b) => `stored\n${describe(b)}`, {
      apiKey: values['api-key'],
      tokenSecret: values['token-secret'],
      ...(values.webhook === undefined ? {} : { webhook: values.webhook }),
    });
  }
  fail('apps put|get NAME, or apps list');
}

async function token(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { app: { type: 'string' }, secret: { type: 'string' }, user: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
  });
  if (values.app === undefined || values.secret === undefined || values.user === undefined) fail('token needs --app, --secret and --user');
  process.stdout.write((await mintToken(values.app, values.secret, values.user, Number(values.ttl))) + '\n');
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'demo':
      return demo(rest);
    case 'push':
      return push(rest);
    case 'broadcast':
      return broadcast(rest);
    case 'status':
      return status(rest);
    case 'apps':
      return apps(rest);
    case 'token':
      return token(rest);
    case 'members':
      return members(rest);
    case 'kv':
      return kv(rest);
    case 'leases':
      return leases(rest);
    case 'keeper':
      return keeperCommand(rest);
    case 'admin-tokens':
      return adminTokens(rest);
    case 'certs': {
      const { certs } = await import('./cli-certs.js');
      process.stdout.write(await certs(rest));
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return;
    default:
      fail(`unknown command ${cmd}\n\n${USAGE}`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message);
  if (err instanceof Error && 'code' in err && (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')) fail(err.message);
  process.stderr.write(`longwire: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
