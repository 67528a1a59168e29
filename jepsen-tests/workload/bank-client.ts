// The bank workload's clients: each reads every account (one linearizable
// prefix read, a read-only transaction of a get per account, or pages of a
// prefix read at one revision, each page through a random node), picks two and an amount, and moves it with one keeper
// transaction through a random node, compare-and-swapping both accounts'
// modRevisions as read, so a transfer made on stale balances fails its
// compare instead of creating or destroying money. A transfer whose compare
// fails reads every account in its failure branch (a transaction that reads
// and writes, through the log), and the next transfer starts from that read.
// Every read that answered and every transfer tried is recorded for
// checker/bank.ts.
import type { BankRead, BankTransfer, TransferOutcome } from '../checker/bank.js';
import { httpJson, kvPath, type KeeperClientLoop, type KvTarget } from './kv-client.js';

/** Outside the kv workload's prefix, so its watchers and final read see none of it. */
export const BANK_PREFIX = '/jepsen-bank/';

export interface BankClientOptions extends KeeperClientLoop {
  readonly accounts: readonly string[];
  readonly reads: BankRead[];
  readonly transfers: BankTransfer[];
}

interface Account {
  readonly balance: number;
  readonly modRevision: number;
}

type KvsBody = readonly { readonly key?: unknown; readonly value?: unknown; readonly modRevision?: unknown }[];

interface ReadBody {
  readonly revision?: unknown;
  /** A range read's answer. */
  readonly kvs?: KvsBody;
  /** A transaction's: its gets. */
  readonly responses?: readonly { readonly kvs?: KvsBody }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One linearizable read of every account through `t` (a prefix read, or with
 * `via: 'txn'` a read-only transaction of a get per account), recorded when
 * the node answered it; the accounts by key, or undefined when it did not
 * answer.
 */
export async function readBank(
  t: KvTarget,
  o: Pick<BankClientOptions, 'clientId' | 'adminToken' | 'opTimeoutMs' | 'now' | 'reads' | 'accounts'>,
  how: { readonly via?: 'get' | 'txn'; readonly final?: boolean } = {},
): Promise<Map<string, Account> | undefined> {
  const via = how.via ?? 'get';
  const call = o.now();
  const r =
    via === 'txn'
      ? await httpJson(`${t.apiUrl}/v1/txn`, { method: 'POST', adminToken: o.adminToken, body: { success: o.accounts.map((key) => ({ get: { key } })) }, timeoutMs: o.opTimeoutMs })
      : await httpJson(`${t.apiUrl}${kvPath(BANK_PREFIX)}?prefix=true&consistency=linearizable`, { method: 'GET', adminToken: o.adminToken, timeoutMs: o.opTimeoutMs });
  if (r.kind !== 'answer' || r.status !== 200 || typeof r.body !== 'object' || r.body === null) return undefined;
  return recordRead(t, o, r.body as ReadBody, { call, via, final: how.final === true });
}

/** Accounts per page of a paged read: five accounts take three pages. */
const PAGE_KEYS = 2;

/**
 * A read of every account in pages of PAGE_KEYS, each through a random node,
 * the later ones at the first page's revision: together one snapshot, or the
 * bank's total shows the gap. Recorded (through the nodes asked, in order)
 * when every page was answered.
 */
async function readBankInPages(o: BankClientOptions): Promise<Map<string, Account> | undefined> {
  const call = o.now();
  const nodes: string[] = [];
  const kvs: NonNullable<ReadBody['kvs']>[number][] = [];
  let revision: number | undefined;
  for (let page = 0; page < 100; page++) {
    const t = o.rng.pick(o.targets());
    nodes.push(t.id);
    const after = kvs.length === 0 ? '' : `&after=${encodeURIComponent(String(kvs[kvs.length - 1]?.key))}`;
    const at = revision === undefined ? '' : `&revision=${revision}`;
    const r = await httpJson(`${t.apiUrl}${kvPath(BANK_PREFIX)}?prefix=true&limit=${PAGE_KEYS}${after}${at}`, { method: 'GET', adminToken: o.adminToken, timeoutMs: o.opTimeoutMs });
    // A 410 (the revision left that member's watch history) is an answer too, but no read.
    if (r.kind !== 'answer' || r.status !== 200 || typeof r.body !== 'object' || r.body === null) return undefined;
    const b = r.body as ReadBody & { more?: unknown };
    if (typeof b.revision !== 'number' || !Array.isArray(b.kvs) || (revision !== undefined && b.revision !== revision)) {
      throw new Error(`bank page through ${t.id}: malformed answer, or not at revision ${revision}: ${JSON.stringify(b).slice(0, 200)}`);
    }
    revision = b.revision;
    kvs.push(...b.kvs);
    if (b.more !== true) return recordRead({ id: nodes.join('>') }, o, { revision, kvs }, { call, via: 'pages', final: false });
  }
  throw new Error('bank paged read: more than 100 pages for the accounts');
}

/** Records an answered read of the accounts (a range read's or a transaction's answer) and returns them by key. */
function recordRead(
  t: Pick<KvTarget, 'id'>,
  o: Pick<BankClientOptions, 'clientId' | 'now' | 'reads'>,
  b: ReadBody,
  at: { readonly call: number; readonly via: NonNullable<BankRead['via']>; readonly final: boolean },
): Map<string, Account> {
  // The route's answer shape; a malformed one throws and fails the run.
  const kvs = b.responses !== undefined && Array.isArray(b.responses) ? b.responses.flatMap((x) => x.kvs ?? [{}]) : b.kvs;
  if (typeof b.revision !== 'number' || !Array.isArray(kvs)) throw new Error(`bank read through ${t.id}: malformed answer ${JSON.stringify(b).slice(0, 200)}`);
  const accounts = new Map<string, Account>();
  const balances: Record<string, number> = {};
  for (const kv of kvs) {
    if (typeof kv.key !== 'string' || typeof kv.value !== 'string' || typeof kv.modRevision !== 'number') throw new Error(`bank read through ${t.id}: malformed kv ${JSON.stringify(kv)}`);
    const balance = /^-?\d+$/.test(kv.value) ? Number(kv.value) : NaN;
    balances[kv.key] = balance;
    accounts.set(kv.key, { balance, modRevision: kv.modRevision });
  }
  o.reads.push({ clientId: o.clientId, node: t.id, call: at.call, return: o.now(), revision: b.revision, balances, via: at.via, ...(at.final ? { final: true } : {}) });
  return accounts;
}

/** Opens every account with `balance` in one transaction (only if none exists), retried through random nodes until the accounts are there. */
export async function openAccounts(o: Omit<BankClientOptions, 'clientId' | 'until' | 'transfers'> & { readonly balance: number; readonly deadlineMs: number }): Promise<void> {
  const body = {
    compare: o.accounts.map((key) => ({ key, target: 'createRevision', op: '=', value: 0 })),
    success: o.accounts.map((key) => ({ put: { key, value: String(o.balance) } })),
  };
  for (let attempt = 0; o.now() < o.deadlineMs && attempt < 1000; attempt++) {
    const t = o.rng.pick(o.targets());
    await httpJson(`${t.apiUrl}/v1/txn`, { method: 'POST', adminToken: o.adminToken, body, timeoutMs: o.opTimeoutMs });
    // Whatever the answer, a read says whether they are open (an unanswered attempt may have opened them).
    // Not recorded: before they are open, a read rightly shows none of them.
    const seen = await readBank(t, { ...o, clientId: 0, reads: [] });
    if (seen !== undefined && o.accounts.every((a) => seen.has(a))) return;
    await sleep(100);
  }
  throw new Error('bank: the accounts could not be opened');
}

export async function bankClientLoop(o: BankClientOptions): Promise<void> {
  /** What the last transfer's failure branch read, to start the next one from. */
  let fresh: Map<string, Account> | undefined;
  for (let i = 0; !o.until() && i < 1_000_000; i++) {
    const how = o.rng.int(3);
    const accounts = fresh ?? (how === 2 ? await readBankInPages(o) : await readBank(o.rng.pick(o.targets()), o, { via: how === 1 ? 'txn' : 'get' }));
    fresh = undefined;
    if (accounts === undefined) {
      await sleep(50);
      continue;
    }
    const from = o.rng.pick(o.accounts);
    const to = o.rng.pick(o.accounts.filter((a) => a !== from));
    const amount = 1 + o.rng.int(10);
    const a = accounts.get(from);
    const b = accounts.get(to);
    const t = o.rng.pick(o.targets());
    const call = o.now();
    let outcome: TransferOutcome;
    if (a === undefined || b === undefined || a.balance < amount) {
      outcome = 'insufficient';
    } else {
      const r = await httpJson(`${t.apiUrl}/v1/txn`, {
        method: 'POST',
        adminToken: o.adminToken,
        timeoutMs: o.opTimeoutMs,
        body: {
          compare: [
            { key: from, target: 'modRevision', op: '=', value: a.modRevision },
            { key: to, target: 'modRevision', op: '=', value: b.modRevision },
          ],
          success: [{ put: { key: from, value: String(a.balance - amount) } }, { put: { key: to, value: String(b.balance + amount) } }],
          failure: [{ get: { key: BANK_PREFIX, prefix: true } }],
        },
      });
      const succeeded = r.kind === 'answer' && r.status === 200 && typeof r.body === 'object' && r.body !== null ? (r.body as { succeeded?: unknown }).succeeded : undefined;
      if (succeeded === false && r.kind === 'answer') fresh = recordRead(t, o, r.body as ReadBody, { call, via: 'transfer', final: false });
      // A 4xx (a member that has not announced transactions yet, mid-rejoin) was not applied; a 5xx or no answer may have been.
      const definitelyNot = r.kind === 'refused' || (r.kind === 'answer' && r.status >= 400 && r.status < 500);
      outcome = definitelyNot ? 'refused' : succeeded === true ? 'done' : succeeded === false ? 'compare-failed' : 'unknown';
    }
    o.transfers.push({ clientId: o.clientId, node: t.id, call, return: o.now(), from, to, amount, outcome });
  }
}
