// The bank checker (Jepsen's bank test): accounts under one prefix, money
// moved between two of them by keeper transactions (POST /v1/txn, each
// compare-and-swapping both accounts' modRevisions), and reads of the whole
// prefix. A transaction is atomic and a prefix read sees one revision, so
// every read must show every account, none below zero, adding up to the
// total the accounts started with; a transfer half made, or a read of two
// revisions, shows as a wrong total.

export const BANK_GUARANTEE =
  'a transaction is applied whole at one revision and a prefix read sees one revision: every read shows every account, none negative, summing to the starting total';

export interface BankRead {
  readonly clientId: number;
  readonly node: string;
  /** ms on the run's clock. */
  readonly call: number;
  readonly return: number;
  readonly revision: number;
  /** Account key → balance as read (NaN for a value that is not an integer). */
  readonly balances: Readonly<Record<string, number>>;
  /** The read after the healed phase. */
  readonly final?: boolean;
  /** A prefix read, a read-only transaction, pages at one revision (node: the members asked, in order), or the failure branch of a transfer whose compare failed. */
  readonly via?: 'get' | 'txn' | 'pages' | 'transfer';
}

export type TransferOutcome = 'done' | 'compare-failed' | 'insufficient' | 'unknown' | 'refused';

export interface BankTransfer {
  readonly clientId: number;
  readonly node: string;
  readonly call: number;
  readonly return: number;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly outcome: TransferOutcome;
}

export interface BankHistory {
  readonly accounts: readonly string[];
  readonly total: number;
  readonly reads: readonly BankRead[];
  readonly transfers: readonly BankTransfer[];
}

export interface BankCheckResult {
  readonly ok: boolean;
  readonly violations: readonly string[];
  readonly stats: {
    readonly reads: number;
    readonly finalReads: number;
    /** Reads by how they were made (a record without `via` counts as 'get'). */
    readonly readsVia: Readonly<Record<NonNullable<BankRead['via']>, number>>;
  } & Readonly<Record<TransferOutcome, number>>;
}

export function checkBank(h: BankHistory): BankCheckResult {
  const violations: string[] = [];
  for (const r of h.reads) {
    const where = `read by client ${r.clientId} through ${r.node} at revision ${r.revision} (${r.call.toFixed(0)}–${r.return.toFixed(0)} ms)${r.final === true ? ', the final read' : ''}`;
    const keys = Object.keys(r.balances).sort();
    const missing = h.accounts.filter((a) => !(a in r.balances));
    const extra = keys.filter((k) => !h.accounts.includes(k));
    if (missing.length > 0 || extra.length > 0) violations.push(`${where}: accounts ${missing.length > 0 ? `missing ${missing.join(', ')}` : ''}${extra.length > 0 ? ` unknown ${extra.join(', ')}` : ''}`);
    const bad = keys.filter((k) => !Number.isInteger(r.balances[k]) || (r.balances[k] ?? 0) < 0);
    if (bad.length > 0) violations.push(`${where}: balances not a whole amount of 0 or more: ${bad.map((k) => `${k}=${String(r.balances[k])}`).join(', ')}`);
    const sum = keys.reduce((n, k) => n + (r.balances[k] ?? 0), 0);
    if (sum !== h.total) violations.push(`${where}: the accounts add up to ${sum}, not ${h.total}: ${keys.map((k) => `${k}=${String(r.balances[k])}`).join(' ')}`);
  }
  const count = (o: TransferOutcome): number => h.transfers.filter((t) => t.outcome === o).length;
  return {
    ok: violations.length === 0,
    violations,
    stats: {
      reads: h.reads.length,
      finalReads: h.reads.filter((r) => r.final === true).length,
      readsVia: { get: h.reads.filter((r) => (r.via ?? 'get') === 'get').length, txn: h.reads.filter((r) => r.via === 'txn').length, pages: h.reads.filter((r) => r.via === 'pages').length, transfer: h.reads.filter((r) => r.via === 'transfer').length },
      done: count('done'),
      'compare-failed': count('compare-failed'),
      insufficient: count('insufficient'),
      unknown: count('unknown'),
      refused: count('refused'),
    },
  };
}
