/**
 * The ledger's hash chain: every change to the privacy ledger (a reservation, its commit, a budget set) is also
 * appended as one canonical entry whose hash is SHA-256(previous hash ‖ entry). Replaying the chain must give the
 * `charges` and `budgets` tables exactly, so an edit, a lost row or a cut tail is detected at start.
 */
import { createHash } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ChainHead } from './state-head.js';

export const CHAIN_TABLE = 'ledger_chain';
export const GENESIS_HASH = '0'.repeat(64);

export type LedgerEvent =
  | { op: 'reserve'; job: string; researcher: string; product: string; rho: number; epsilon: number | null; delta: number; atMs: number }
  | { op: 'commit'; job: string }
  | { op: 'budget'; researcher: string; product: string; epsilon: number; delta: number; setBy: string; atMs: number };

/** The one serialisation that is hashed: fixed key order, JSON numbers (shortest round-trip form of a double). */
export function canonicalEntry(e: LedgerEvent): string {
  switch (e.op) {
    case 'reserve':
      return JSON.stringify({ op: e.op, job: e.job, researcher: e.researcher, product: e.product, rho: e.rho, epsilon: e.epsilon, delta: e.delta, atMs: e.atMs });
    case 'commit':
      return JSON.stringify({ op: e.op, job: e.job });
    case 'budget':
      return JSON.stringify({ op: e.op, researcher: e.researcher, product: e.product, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
  }
}

export function chainHash(prevHash: string, entry: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(entry).digest('hex');
}

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses a stored entry back into an event; undefined when it is not a canonical entry. */
export function parseEntry(entry: string): LedgerEvent | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(entry) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (o === null || typeof o !== 'object') return undefined;
  let e: LedgerEvent | undefined;
  if (o.op === 'reserve' && str(o.job) && str(o.researcher) && str(o.product) && num(o.rho) && (o.epsilon === null || num(o.epsilon)) && num(o.delta) && num(o.atMs)) {
    e = { op: 'reserve', job: o.job, researcher: o.researcher, product: o.product, rho: o.rho, epsilon: o.epsilon as number | null, delta: o.delta, atMs: o.atMs };
  } else if (o.op === 'commit' && str(o.job)) {
    e = { op: 'commit', job: o.job };
  } else if (o.op === 'budget' && str(o.researcher) && str(o.product) && num(o.epsilon) && num(o.delta) && str(o.setBy) && num(o.atMs)) {
    e = { op: 'budget', researcher: o.researcher, product: o.product, epsilon: o.epsilon, delta: o.delta, setBy: o.setBy, atMs: o.atMs };
  }
  return e && canonicalEntry(e) === entry ? e : undefined;
}

export async function createChainTable(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE TABLE IF NOT EXISTS ${CHAIN_TABLE} (seq BIGINT PRIMARY KEY, entry VARCHAR NOT NULL, hash VARCHAR NOT NULL)`);
}

/**
 * Appends `events` after `head` on `conn` (inside the caller's transaction).
 * @returns the new head, to be made current only once the transaction committed
 */
export async function appendEvents(conn: DuckDBConnection, head: ChainHead, events: readonly LedgerEvent[]): Promise<ChainHead> {
  let { seq, hash } = head;
  for (const e of events) {
    const entry = canonicalEntry(e);
    seq += 1;
    hash = chainHash(hash, entry);
    await conn.run(`INSERT INTO ${CHAIN_TABLE} VALUES ($1, $2, $3)`, [seq, entry, hash]);
  }
  return { seq, hash };
}

/** What replaying the chain says the ledger tables must hold. */
export interface ReplayedLedger {
  charges: Map<string, { researcher: string; product: string; rho: number; epsilon: number | null; delta: number; state: 'reserved' | 'committed'; atMs: number }>;
  budgets: Map<string, { researcher: string; product: string; epsilon: number; delta: number; setBy: string; atMs: number }>;
}

export const budgetKey = (researcher: string, product: string): string => JSON.stringify([researcher, product]);

/**
 * Folds events into the ledger state they describe.
 * @returns the state, or the first event that cannot apply (a second reservation of a job, a commit without one)
 */
export function replay(events: Iterable<{ seq: number; event: LedgerEvent }>): { ok: true; ledger: ReplayedLedger } | { ok: false; seq: number; problem: string } {
  const ledger: ReplayedLedger = { charges: new Map(), budgets: new Map() };
  for (const { seq, event: e } of events) {
    if (e.op === 'reserve') {
      if (ledger.charges.has(e.job)) return { ok: false, seq, problem: `job ${e.job} is reserved twice` };
      ledger.charges.set(e.job, { researcher: e.researcher, product: e.product, rho: e.rho, epsilon: e.epsilon, delta: e.delta, state: 'reserved', atMs: e.atMs });
    } else if (e.op === 'commit') {
      const c = ledger.charges.get(e.job);
      if (!c || c.state !== 'reserved') return { ok: false, seq, problem: `commit of job ${e.job} without an open reservation` };
      c.state = 'committed';
    } else {
      ledger.budgets.set(budgetKey(e.researcher, e.product), { researcher: e.researcher, product: e.product, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
    }
  }
  return { ok: true, ledger };
}
