/**
 * The start-up cross-check of the audit trail against the privacy ledger. Every ledger change the audit log
 * recorded carries its ledger-chain position and hash; the ledger's chain must still hold that exact entry. Because
 * the chain is a hash chain, one matching position proves the whole prefix. A ledger that lost charges the audit
 * saw (a state folder restored from an older copy, a cut write-ahead log together with its head file, a charge
 * deleted and the chain rewritten) fails here, and the charges it lost are named. Pure: the caller reads both.
 */
import type { AuditEntry } from '../../common/audit/index.js';
import { GENESIS_HASH, parseEntry } from '../state/ledger-chain.js';

/** A ledger change as the audit log recorded it. */
export interface AuditedLedgerRef {
  /** Audit entry index. */
  entry: number;
  type: string;
  ledgerSeq: number;
  ledgerHash: string;
  jobId?: string;
  researcher?: string;
  population?: string;
}

export interface ChainRow {
  seq: number;
  hash: string;
  entry: string;
}

const MAX_NAMED = 5;

/**
 * Collects, entry by entry, the ledger changes the audit log recorded since the last administrator's acceptance of
 * a ledger loss (which settles everything before it).
 */
export function ledgerRefCollector(): { onEntry: (e: AuditEntry) => void; refs: AuditedLedgerRef[] } {
  const refs: AuditedLedgerRef[] = [];
  const onEntry = (e: AuditEntry): void => {
    if (e.type === 'admin.ledger-loss-accepted') refs.length = 0;
    if (typeof e.ledgerSeq === 'number' && typeof e.ledgerHash === 'string') {
      refs.push({
        entry: e.i, type: e.type, ledgerSeq: e.ledgerSeq, ledgerHash: e.ledgerHash,
        ...(typeof e.jobId === 'string' ? { jobId: e.jobId } : {}),
        ...(typeof e.researcher === 'string' ? { researcher: e.researcher } : {}),
        ...(typeof e.population === 'string' ? { population: e.population } : {}),
      });
    }
  };
  return { onEntry, refs };
}

function describe(r: AuditedLedgerRef): string {
  switch (r.type) {
    case 'ledger.reserve':
      return `the charge of job ${r.jobId ?? '?'} (researcher ${r.researcher ?? '?'})`;
    case 'ledger.commit':
      return `the commit of job ${r.jobId ?? '?'}`;
    case 'ledger.budget':
      return `the budget of ${r.researcher ?? '?'} on population ${r.population ?? '?'}`;
    default:
      return `ledger entry ${r.ledgerSeq}`;
  }
}

/** Problems, first named; empty when every audited change is in the ledger as recorded. */
export function crossCheckLedger(refs: readonly AuditedLedgerRef[], chain: readonly ChainRow[]): string[] {
  // Position 0 is the empty chain (a start before any ledger change).
  const bySeq = new Map([[0, { hash: GENESIS_HASH }], ...chain.map((r): [number, { hash: string }] => [r.seq, r])]);
  const tail = chain.length === 0 ? 0 : chain[chain.length - 1]!.seq;
  const reservedJobs = new Set<string>();
  for (const r of chain) {
    const e = parseEntry(r.entry);
    if (e && (e.op === 'reserve' || e.op === 'reserve-populations')) reservedJobs.add(e.job);
  }
  const bad = refs.filter((r) => bySeq.get(r.ledgerSeq)?.hash !== r.ledgerHash);
  if (bad.length === 0) return [];
  const lines = bad.slice(0, MAX_NAMED).map((r) => {
    const missing = r.type === 'ledger.reserve' && r.jobId !== undefined && !reservedJobs.has(r.jobId);
    const where = r.ledgerSeq > tail ? `the ledger chain ends at entry ${tail}` : `ledger entry ${r.ledgerSeq} differs`;
    return `${describe(r)} (audit entry ${r.entry}, ledger entry ${r.ledgerSeq}) ${missing ? 'is missing from the ledger' : 'is not in the ledger as recorded'}: ${where}`;
  });
  if (bad.length > MAX_NAMED) lines.push(`… and ${bad.length - MAX_NAMED} more ledger change${bad.length - MAX_NAMED === 1 ? '' : 's'} the audit log recorded`);
  return lines;
}
