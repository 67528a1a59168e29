// The CLI's cluster and keeper commands: `members list|add|remove|transfer-leader`,
// `kv get|put|del|watch|txn`, `leases list|get` and `keeper backup|restore`, over the admin API. Text for people, the API's
// JSON with --json (for `kv watch`, its NDJSON lines as they come).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { restoreBackup } from '../../keeper/src/restore-backup.js';
import { KeeperClient } from '../../keeper/src/keeper-client.js';
import { DRAINING_PREFIX, JOINING_PREFIX } from './ownership.js';
import { DEFAULT_API_URL, apiCall, output } from './cli-api.js';

function usage(message: string): never {
  process.stderr.write(`longwire: ${message}\n`);
  process.exit(2);
}

const COMMON = {
  api: { type: 'string', default: DEFAULT_API_URL },
  json: { type: 'boolean', default: false },
  'admin-token': { type: 'string', default: process.env.LONGWIRE_ADMIN_TOKEN },
} as const;

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** One line per member: id, role, health, addresses; the leader marked with *. */
export function describeCluster(body: unknown): string {
  const c = rec(body);
  const members = Array.isArray(c.members) ? c.members.map(rec) : [];
  const head = `leader ${String(c.leader ?? '(none)')}, term ${String(c.term)}`;
  const rows = members.map((m) => {
    const mark = m.id === c.leader ? '*' : ' ';
    const health = m.healthy === true ? 'healthy' : 'unhealthy';
    return `${mark} ${String(m.id)}  ${String(m.role)}  ${health}  peer ${String(m.peer)}  api ${String(m.api)}  gateway ${String(m.gateway)}  zone ${String(m.zone)}`;
  });
  return [head, ...rows].join('\n');
}

export async function members(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const takesId = verb === 'add' || verb === 'remove';
  const id = takesId ? rest[0] : undefined;
  const { values } = parseArgs({
    args: takesId ? rest.slice(1) : rest,
    options: { ...COMMON, peer: { type: 'string' }, 'member-api': { type: 'string' }, gateway: { type: 'string' }, zone: { type: 'string' }, to: { type: 'string' } },
  });
  const base = `${values.api}/v1/cluster`;
  const token = values['admin-token'];
  switch (verb) {
    case 'list':
      return output(await apiCall('GET', base, token), values.json, describeCluster);
    case 'add': {
      if (id === undefined || values.peer === undefined || values['member-api'] === undefined || values.gateway === undefined) {
        usage('members add ID --peer H:P --member-api H:P --gateway H:P [--zone Z]');
      }
      const body = { id, peer: values.peer, api: values['member-api'], gateway: values.gateway, ...(values.zone === undefined ? {} : { zone: values.zone }) };
      return output(await apiCall('POST', `${base}/members`, token, body), values.json, () => `added ${id} as a learner; it becomes a voter once caught up`);
    }
    case 'remove':
      if (id === undefined) usage('members remove ID');
      return output(await apiCall('DELETE', `${base}/members/${encodeURIComponent(id)}`, token), values.json, () => `removed ${id}`);
    case 'transfer-leader':
      return output(await apiCall('POST', `${base}/transfer-leader`, token, values.to === undefined ? {} : { to: values.to }), values.json, (b) => `leader is now ${String(rec(b).leader)}`);
    default:
      usage('members list|add|remove|transfer-leader');
  }
}

function kvPath(key: string): string {
  return key.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
}

/** A key as `kv get` and `kv txn` print it: with its value and modRevision unless the read was keys-only. */
function kvLine(k: Record<string, unknown>): string {
  return k.value === undefined ? String(k.key) : `${String(k.key)} = ${String(k.value)}  (mod ${String(k.modRevision)})`;
}

export async function kv(argv: string[]): Promise<void> {
  const [verb, key, ...rest] = argv;
  if (key === undefined) usage('kv get|put|del|watch KEY | kv txn FILE');
  const putValue = verb === 'put' ? rest[0] : undefined;
  const { values } = parseArgs({
    args: verb === 'put' ? rest.slice(1) : rest,
    options: {
      ...COMMON,
      prefix: { type: 'boolean', default: false },
      serializable: { type: 'boolean', default: false },
      lease: { type: 'string' },
      'if-mod-revision': { type: 'string' },
      'from-revision': { type: 'string' },
      'prev-kv': { type: 'boolean', default: false },
      revision: { type: 'string' },
      after: { type: 'string' },
      limit: { type: 'string' },
      'keys-only': { type: 'boolean', default: false },
      count: { type: 'boolean', default: false },
    },
  });
  const token = values['admin-token'];
  const url = `${values.api}/v1/kv/${kvPath(key)}`;
  const prefix = values.prefix ? 'prefix=true' : '';
  switch (verb) {
    case 'get': {
      const q = new URLSearchParams({
        ...(values.prefix ? { prefix: 'true' } : {}),
        ...(values.serializable ? { consistency: 'serializable' } : {}),
        ...(values.after === undefined ? {} : { after: values.after }),
        ...(values.limit === undefined ? {} : { limit: values.limit }),
        ...(values['keys-only'] ? { keysOnly: 'true' } : {}),
        ...(values.count ? { countOnly: 'true' } : {}),
        ...(values.revision === undefined ? {} : { revision: values.revision }),
      }).toString();
      const human = (b: unknown): string => {
        if (values.count) return `${String(rec(b).count)} keys at revision ${String(rec(b).revision)}`;
        const kvs = Array.isArray(rec(b).kvs) ? (rec(b).kvs as unknown[]).map(rec) : [];
        const lines = kvs.map(kvLine);
        if (lines.length === 0) return `(no key) at revision ${String(rec(b).revision)}`;
        const last = kvs[kvs.length - 1];
        // The next pages read at this page's revision: together, one snapshot.
        if (rec(b).more === true && last !== undefined) lines.push(`(more keys: continue with --after ${String(last.key)} --revision ${String(rec(b).revision)})`);
        return lines.join('\n');
      };
      return output(await apiCall('GET', q === '' ? url : `${url}?${q}`, token), values.json, human);
    }
    case 'put': {
      if (putValue === undefined) usage('kv put KEY VALUE [--lease ID] [--if-mod-revision N]');
      const ifMod = values['if-mod-revision'];
      const body = { value: putValue, ...(values.lease === undefined ? {} : { lease: values.lease }), ...(ifMod === undefined ? {} : { ifModRevision: Number(ifMod) }) };
      return output(await apiCall('PUT', url, token, body), values.json, (b) => `revision ${String(rec(b).revision)}`);
    }
    case 'del':
      return output(await apiCall('DELETE', prefix === '' ? url : `${url}?${prefix}`, token), values.json, (b) => `deleted ${String(rec(b).deleted)} at revision ${String(rec(b).revision)}`);
    case 'watch':
      return watch(values.api, key, values.prefix, values['from-revision'], values['prev-kv'], token, values.json);
    case 'txn': {
      // The API's body, from a file or (with -) from stdin.
      const text = key === '-' ? await readStdin() : await readFile(key, 'utf8').catch((e: unknown) => usage(`kv txn: cannot read ${key}: ${String(e)}`));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        usage(`kv txn: ${key} is not JSON: ${String(e)}`);
      }
      const human = (b: unknown): string => {
        const r = rec(b);
        const lines = [`${r.succeeded === true ? 'compares held: success branch ran' : 'a compare failed: failure branch ran'} at revision ${String(r.revision)} (${String(r.deleted)} deleted)`];
        const responses = Array.isArray(r.responses) ? (r.responses as unknown[]).map(rec) : [];
        responses.forEach((x, i) => {
          if (x.type !== 'get') return;
          const kvs = Array.isArray(x.kvs) ? (x.kvs as unknown[]).map(rec) : [];
          lines.push(`[${i}] get: ${kvs.length} key${kvs.length === 1 ? '' : 's'}${x.more === true ? ', more remain' : ''}`, ...kvs.map((k) => `  ${kvLine(k)}`));
        });
        return lines.join('\n');
      };
      const q = values.serializable ? '?consistency=serializable' : '';
      return output(await apiCall('POST', `${values.api}/v1/txn${q}`, token, body), values.json, human);
    }
    default:
      usage('kv get|put|del|watch KEY | kv txn FILE');
  }
}

/** `leases list [--limit N] [--after ID]` and `leases get ID`: what is attached to the keeper's leases. */
export async function leases(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const id = verb === 'get' ? rest[0] : undefined;
  if (verb === 'get' && id === undefined) usage('leases get ID');
  const { values } = parseArgs({ args: verb === 'get' ? rest.slice(1) : rest, options: { ...COMMON, after: { type: 'string' }, limit: { type: 'string' } } });
  const token = values['admin-token'];
  const secondsLeft = (l: Record<string, unknown>): string => `${(Number(l.remainingMs) / 1000).toFixed(1)} s of ${String(l.ttl)} s left`;
  switch (verb) {
    case 'list': {
      const q = new URLSearchParams({ ...(values.after === undefined ? {} : { after: values.after }), ...(values.limit === undefined ? {} : { limit: values.limit }) });
      return output(await apiCall('GET', `${values.api}/v1/leases?${q}`, token), values.json, (b) => {
        const list = Array.isArray(rec(b).leases) ? (rec(b).leases as unknown[]).map(rec) : [];
        const lines = list.map((l) => `${String(l.id)}  ${secondsLeft(l)}  ${String(l.sessions)} sessions`);
        const last = list[list.length - 1];
        if (rec(b).more === true && last !== undefined) lines.push(`(more leases: continue with --after ${String(last.id)})`);
        return lines.length === 0 ? `(no lease) at revision ${String(rec(b).revision)}` : lines.join('\n');
      });
    }
    case 'get':
      return output(await apiCall('GET', `${values.api}/v1/leases/${encodeURIComponent(id ?? '')}`, token), values.json, (b) => {
        const l = rec(b);
        const keys = Array.isArray(l.keys) ? l.keys.map(String) : [];
        return [`${String(l.id)}  ${secondsLeft(l)}  ${String(l.sessions)} sessions  ${keys.length} keys`, ...keys.map((k) => `  ${k}`)].join('\n');
      });
    default:
      usage('leases list|get');
  }
}

/**
 * `keeper backup FILE` saves the keeper's state from a running cluster;
 * `keeper restore FILE --data-dir DIR --id ID` writes it, offline, into an
 * empty data dir, where `longwire start --id ID --data-dir DIR` then opens a
 * new one-member cluster with it (disaster recovery, docs/OPERATIONS.md);
 * `keeper hash` compares the members' keys and values at one revision.
 */
export async function keeperCommand(argv: string[]): Promise<void> {
  const [verb, ...afterVerb] = argv;
  if (verb === 'hash') return keeperHash(afterVerb);
  const [file, ...rest] = afterVerb;
  if ((verb !== 'backup' && verb !== 'restore') || file === undefined) usage('keeper backup FILE | keeper restore FILE --data-dir DIR --id ID | keeper hash');
  const { values } = parseArgs({ args: rest, options: { ...COMMON, 'data-dir': { type: 'string' }, id: { type: 'string' } } });
  if (verb === 'backup') {
    let res: Response;
    try {
      res = await fetch(`${values.api}/v1/keeper/backup`, { headers: values['admin-token'] === undefined ? {} : { authorization: `Bearer ${values['admin-token']}` } });
    } catch (err) {
      process.stderr.write(`longwire: cannot reach the API at ${values.api}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
    if (!res.ok) {
      process.stderr.write(`longwire: GET /v1/keeper/backup: ${res.status} ${(await res.text()).slice(0, 300)}\n`);
      process.exit(1);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Owner-only: the backup holds the apps' secrets and the admin token digests.
    await writeFile(file, bytes, { mode: 0o600 });
    process.stdout.write(`keeper backup at revision ${res.headers.get('x-longwire-revision') ?? '?'}: ${bytes.length} bytes in ${file}\n`);
    return;
  }
  const dataDir = values['data-dir'];
  const id = values.id;
  if (dataDir === undefined || id === undefined) usage('keeper restore FILE --data-dir DIR --id ID');
  const backup = await readFile(file).catch((e: unknown) => usage(`keeper restore: cannot read ${file}: ${String(e)}`));
  try {
    // Moves and drains the old cluster's members had under way do not go on in the new cluster.
    const r = await restoreBackup(join(dataDir, 'raft'), id, backup, [JOINING_PREFIX, DRAINING_PREFIX]);
    process.stdout.write(`restored ${r.keys} keys at revision ${r.revision} for member ${id} into ${dataDir}: start it with longwire start --id ${id} --data-dir ${dataDir}, then join the others to it\n`);
  } catch (err) {
    process.stderr.write(`longwire: keeper restore: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

/**
 * Streams a watch until the process is stopped, through the keeper client: it
 * fails over to another member (from `--api`, comma-separated, and the
 * cluster view) and resumes from the last revision, so no change is missed.
 */
async function watch(api: string, key: string, prefix: boolean, from: string | undefined, prevKv: boolean, token: string | undefined, json: boolean): Promise<void> {
  const client = new KeeperClient({ endpoints: api.split(','), adminToken: token ?? '' });
  await client.discover().catch((err: unknown) => {
    process.stderr.write(`longwire: cannot reach the API at ${api}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  await new Promise<void>((resolve) => {
    client.watch('/' + key.replace(/^\/+/, ''), { prefix, prevKv, ...(from === undefined ? {} : { fromRevision: Number(from) }) }, {
      onEvents: (events) => {
        for (const e of events) {
          const was = e.prevKv === undefined ? '' : ` (was ${e.prevKv.value})`;
          if (json) process.stdout.write(JSON.stringify(e) + '\n');
          else process.stdout.write(e.type === 'put' ? `${e.revision} put ${e.key} = ${e.value}${was}\n` : `${e.revision} delete ${e.key}${was}\n`);
        }
      },
      onProgress: (revision) => {
        if (json) process.stdout.write(JSON.stringify({ progress: revision }) + '\n');
      },
      onCompacted: (compactRevision) => {
        process.stderr.write(`longwire: revision ${from ?? ''} is compacted (oldest kept: ${compactRevision + 1}); read the keys, then watch from the read's revision\n`);
        process.exitCode = 1;
        resolve();
      },
    });
  });
}

/**
 * `keeper hash`: every member's digest of its keys and values at the
 * revision the --api member is at now; exits 1 unless all answered and agree.
 */
async function keeperHash(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...COMMON } });
  const token = values['admin-token'];
  const first = await apiCall('GET', `${values.api}/v1/keeper/hash`, token);
  if (!first.ok) return output(first, values.json, () => '');
  const revision = Number(rec(first.body).revision);
  const cluster = await apiCall('GET', `${values.api}/v1/cluster`, token);
  if (!cluster.ok) return output(cluster, values.json, () => '');
  const members = (Array.isArray(rec(cluster.body).members) ? (rec(cluster.body).members as unknown[]) : []).map(rec);
  const scheme = new URL(values.api).protocol;
  const answers = await Promise.all(
    members.map(async (m) => {
      const url = `${scheme}//${String(m.api)}/v1/keeper/hash?revision=${revision}`;
      try {
        const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
        const body = rec(await res.json().catch(() => ({})));
        return res.ok ? { id: String(m.id), hash: String(body.hash), keys: Number(body.keys) } : { id: String(m.id), error: `${res.status} ${String(rec(body.error).message ?? '')}` };
      } catch (err) {
        return { id: String(m.id), error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  const hashes = new Set(answers.map((a) => ('hash' in a ? a.hash : undefined)));
  const agree = answers.length > 0 && answers.every((a) => 'hash' in a) && hashes.size === 1;
  if (values.json) process.stdout.write(JSON.stringify({ revision, agree, members: answers }) + '\n');
  else {
    for (const a of answers) process.stdout.write('hash' in a ? `${a.id}  ${a.hash}  ${a.keys} keys\n` : `${a.id}  (no answer: ${a.error})\n`);
    process.stdout.write(agree ? `${answers.length} members agree at revision ${revision}\n` : `members DIFFER or did not all answer at revision ${revision}\n`);
  }
  if (!agree) process.exitCode = 1;
}

/** `admin-tokens list|create|revoke`: rotation without restart, and tokens scoped to keeper keys; a created token is printed once. */
export async function adminTokens(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const id = verb === 'revoke' ? rest[0] : undefined;
  const { values } = parseArgs({
    args: verb === 'revoke' ? rest.slice(1) : rest,
    options: { ...COMMON, label: { type: 'string' }, read: { type: 'string', multiple: true }, write: { type: 'string', multiple: true } },
  });
  const base = `${values.api}/v1/admin/tokens`;
  const token = values['admin-token'];
  switch (verb) {
    case 'list':
      return output(await apiCall('GET', base, token), values.json, (b) => {
        const list = Array.isArray(rec(b).tokens) ? (rec(b).tokens as unknown[]).map(rec) : [];
        return list.map((t) => `${String(t.id)}  ${new Date(Number(t.createdAt)).toISOString()}  ${String(t.label)}${scopeText(t.scope)}`).join('\n');
      });
    case 'create': {
      const scoped = values.read !== undefined || values.write !== undefined;
      const body = { ...(values.label === undefined ? {} : { label: values.label }), ...(scoped ? { scope: { read: values.read ?? [], write: values.write ?? [] } } : {}) };
      return output(await apiCall('POST', base, token, body), values.json, (b) => `created ${String(rec(b).id)}${scopeText(rec(b).scope)}; the token (shown only now):\n${String(rec(b).token)}`);
    }
    case 'revoke':
      if (id === undefined) usage('admin-tokens revoke ID');
      return output(await apiCall('DELETE', `${base}/${encodeURIComponent(id)}`, token), values.json, () => `revoked ${id} on every node`);
    default:
      usage('admin-tokens list | create [--label L] [--read PREFIX]... [--write PREFIX]... | revoke ID');
  }
}

/** A token's scope as `admin-tokens` prints it, or nothing for an unscoped token. */
function scopeText(scope: unknown): string {
  if (scope === undefined) return '';
  const list = (v: unknown): string => (Array.isArray(v) && v.length > 0 ? v.map(String).join(',') : '-');
  return `  scoped: read ${list(rec(scope).read)} write ${list(rec(scope).write)}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}
