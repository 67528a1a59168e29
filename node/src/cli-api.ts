// The CLI's side of the HTTP API: one call helper, output for people or (with
// --json) one JSON document for scripts, and the operator commands `status`
// and `broadcast`. People get text on stdout and progress on stderr; scripts
// get exactly the API's JSON on stdout. A failed call exits 1.
import { parseArgs } from 'node:util';

export const DEFAULT_API_URL = 'http://127.0.0.1:7801';
/** How often `broadcast` polls its job. */
export const BROADCAST_POLL_MS = 200;
/** Characters in the progress bar. */
const BAR_CHARS = 30;

export interface ApiAnswer {
  readonly ok: boolean;
  readonly status: number;
  readonly text: string;
  readonly body: unknown;
}

function exit(code: number, message: string): never {
  process.stderr.write(`longwire: ${message}\n`);
  process.exit(code);
}

export async function apiCall(method: string, url: string, token: string | undefined, body?: unknown): Promise<ApiAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    exit(1, `cannot reach the API at ${new URL(url).origin}: ${cause}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { ok: res.ok, status: res.status, text, body: parsed };
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function describeError(a: ApiAnswer): string {
  const e = rec(rec(a.body).error);
  return typeof e.code === 'string' ? `${a.status} ${e.code}: ${String(e.message)}` : `${a.status}: ${a.text.slice(0, 200)}`;
}

/** Prints an answer: the API's JSON as is with --json, else `human(body)`. A failed call exits 1 (with --json, after printing the error body). */
export function output(a: ApiAnswer, json: boolean, human: (body: unknown) => string): void {
  if (json) {
    process.stdout.write(a.text + '\n');
    if (!a.ok) process.exit(1);
    return;
  }
  if (!a.ok) exit(1, describeError(a));
  process.stdout.write(human(a.body) + '\n');
}

/** Flattens an object into `key value` lines, nested objects indented. */
export function describe(v: unknown, indent = ''): string {
  const lines: string[] = [];
  for (const [k, x] of Object.entries(rec(v))) {
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) lines.push(`${indent}${k}`, describe(x, indent + '  '));
    else lines.push(`${indent}${k.padEnd(16)} ${Array.isArray(x) ? x.join(', ') : String(x)}`);
  }
  return lines.filter((l) => l.length > 0).join('\n');
}

export function describePush(body: unknown): string {
  const b = rec(body);
  const lines = [`push ${String(b.id)}`];
  for (const r of list(b.results)) {
    const x = rec(r);
    lines.push(typeof x.seq === 'number' ? `  ${String(x.user)}  stored as seq ${x.seq}` : `  ${String(x.user)}  written to ${String(x.delivered)} connection(s)`);
  }
  return lines.join('\n');
}

function counts(v: unknown): string {
  const e = Object.entries(rec(v)).filter(([, n]) => typeof n === 'number' && n > 0);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k} ${String(n)}`).join(', ');
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

const MIB = 1024 * 1024;

/** The store's keys and values against its quota, in MiB. */
function keeperSpace(k: Record<string, unknown>): string {
  const [bytes, quota] = [Number(k.bytes), Number(k.quotaBytes)];
  if (!Number.isFinite(bytes)) return 'n/a';
  const used = `${(bytes / MIB).toFixed(1)} MiB`;
  return quota > 0 ? `${used} of ${(quota / MIB).toFixed(0)} MiB (${((100 * bytes) / quota).toFixed(0)} %)` : `${used} (no quota)`;
}

/** `members` holds each member's /v1/stats answer by id (undefined: it did not answer). */
export function describeStatus(cluster: unknown, stats: unknown, members: Readonly<Record<string, unknown>> = {}): string {
  const c = rec(cluster);
  const s = rec(stats);
  const ms = list(c.members).map(rec);
  const lines = [`cluster  leader ${c.leader === null ? '(none)' : String(c.leader)}, term ${String(c.term)}, ${ms.length} member${ms.length === 1 ? '' : 's'}`];
  for (const m of ms) {
    const lead = m.id === c.leader ? ' (leader)' : '';
    const st = m.id === s.node ? s : members[String(m.id)];
    const conns = st === undefined ? 'connections ?' : `connections ${String(rec(st).connections)}`;
    lines.push(`  ${String(m.id)}${lead}  ${String(m.role)}  zone ${String(m.zone)}  api ${String(m.api)}  gateway ${String(m.gateway)}  ${m.healthy === true ? 'healthy' : 'UNHEALTHY'}  ${conns}`);
  }
  const pushes = rec(s.pushes);
  const deliveries = rec(s.deliveries);
  const qos1 = rec(deliveries.qos1);
  const lag = typeof s.eventLoopLagP99Seconds === 'number' ? `${(s.eventLoopLagP99Seconds * 1000).toFixed(1)} ms` : 'n/a';
  lines.push(
    `node ${String(s.node)}  up ${duration(Number(s.uptimeSeconds))}`,
    `  connections   ${String(s.connections)}${Object.keys(rec(s.byApp)).length > 0 ? `  (${counts(s.byApp)})` : ''}`,
    `  push requests ${counts(Object.fromEntries(Object.entries(rec(pushes.requests)).map(([q, n]) => [`qos${q}`, n])))}`,
    `  push messages ${counts(Object.fromEntries(Object.entries(rec(pushes.messages)).map(([q, n]) => [`qos${q}`, n])))}`,
    `  delivered     qos1 ${String((Number(qos1.live) || 0) + (Number(qos1.store) || 0))}, broadcast ${String(deliveries.broadcast)}, acks ${String(deliveries.acks)}`,
    `  frames        in ${String(s.framesIn)}, out ${String(s.framesOut)}`,
    `  gaps          ${counts(s.gaps)}`,
    `  rate limited  ${counts(s.rateLimited)}`,
    `  webhooks      ${counts(s.webhooks)}`,
    `  broadcasts    ${String(rec(s.broadcasts).running)} running`,
    `  keeper        ${keeperSpace(rec(s.keeper))}`,
    `  event loop    p99 lag ${lag}`,
  );
  return lines.join('\n');
}

export async function status(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      api: { type: 'string', default: DEFAULT_API_URL },
      'admin-token': { type: 'string', default: process.env.LONGWIRE_ADMIN_TOKEN },
      json: { type: 'boolean', default: false },
    },
  });
  const token = values['admin-token'];
  const [cluster, stats] = await Promise.all([apiCall('GET', `${values.api}/v1/cluster`, token), apiCall('GET', `${values.api}/v1/stats`, token)]);
  const failed = [cluster, stats].find((a) => !a.ok);
  if (failed !== undefined) return output(failed, values.json, () => '');
  // The other members' counters, through this node; a member that does not answer is left out.
  const self = rec(stats.body).node;
  const others = list(rec(cluster.body).members)
    .map((m) => String(rec(m).id))
    .filter((id) => id !== self);
  const answers = await Promise.all(others.map((id) => apiCall('GET', `${values.api}/v1/stats?node=${encodeURIComponent(id)}`, token)));
  const members: Record<string, unknown> = {};
  others.forEach((id, i) => {
    const a = answers[i];
    if (a?.ok === true) members[id] = a.body;
  });
  if (values.json) {
    process.stdout.write(JSON.stringify({ cluster: cluster.body, stats: stats.body, members }) + '\n');
    return;
  }
  process.stdout.write(describeStatus(cluster.body, stats.body, members) + '\n');
}

export function progressBar(delivered: number, targets: number, done: boolean): string {
  const frac = targets > 0 ? Math.min(1, delivered / targets) : done ? 1 : 0;
  const full = Math.round(frac * BAR_CHARS);
  return `[${'#'.repeat(full)}${'.'.repeat(BAR_CHARS - full)}] ${String(Math.round(frac * 100)).padStart(3)}%  ${delivered}/${targets}`;
}

export async function broadcast(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      api: { type: 'string', default: DEFAULT_API_URL },
      app: { type: 'string' },
      key: { type: 'string' },
      data: { type: 'string' },
      ttl: { type: 'string' },
      rate: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.app === undefined || values.key === undefined || values.data === undefined) exit(2, 'broadcast needs --app, --key and --data');
  let data: unknown;
  try {
    data = JSON.parse(values.data);
  } catch {
    exit(2, '--data must be JSON');
  }
  const base = `${values.api}/v1/apps/${encodeURIComponent(values.app)}`;
  const started = await apiCall('POST', `${base}/broadcast`, values.key, {
    data,
    ...(values.ttl === undefined ? {} : { ttl: Number(values.ttl) }),
    ...(values.rate === undefined ? {} : { rate: Number(values.rate) }),
  });
  if (!started.ok) return output(started, values.json, () => '');
  const job = String(rec(started.body).job);
  const tty = process.stderr.isTTY === true;
  let shown = '';
  for (;;) {
    const a = await apiCall('GET', `${base}/broadcasts/${encodeURIComponent(job)}`, values.key);
    if (!a.ok) return output(a, values.json, () => '');
    const j = rec(a.body);
    const state = String(j.state);
    const delivered = Number(j.delivered);
    const targets = Number(j.targets);
    if (!values.json) {
      const line = `${progressBar(delivered, targets, state !== 'running')}  ${state}`;
      // At a terminal the bar is redrawn in place; elsewhere each change is one line.
      if (tty) process.stderr.write(`\r${line}`);
      else if (line !== shown) process.stderr.write(line + '\n');
      shown = line;
    }
    if (state !== 'running') {
      if (tty && !values.json) process.stderr.write('\n');
      if (values.json) process.stdout.write(a.text + '\n');
      else {
        const secs = typeof j.finishedAt === 'string' && typeof j.startedAt === 'string' ? (Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000 : undefined;
        process.stdout.write(`broadcast ${job} ${state}: delivered to ${delivered} of ${targets} connection(s)${secs === undefined ? '' : ` in ${secs.toFixed(1)} s`}\n`);
      }
      if (state !== 'done') process.exit(1);
      return;
    }
    await new Promise((r) => setTimeout(r, BROADCAST_POLL_MS));
  }
}
