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

/** One population a reservation charges, with the products of the job in it (sorted). */
export interface ChargedPopulation {
  population: string;
  products: string[];
}

/**
 * `reserve` and `budget` are the per-product events written before budgets were kept per population (schema 1);
 * they stay valid history. `migrate-populations` moves that state to populations once (charges to their product's
 * population, budgets merged to the minimum); every change after it is a `reserve-populations` or a
 * `population-budget`.
 */
export type LedgerEvent =
  | { op: 'reserve'; job: string; researcher: string; product: string; rho: number; epsilon: number | null; delta: number; atMs: number }
  | { op: 'commit'; job: string }
  | { op: 'budget'; researcher: string; product: string; epsilon: number; delta: number; setBy: string; atMs: number }
  | { op: 'migrate-populations'; mapping: Array<[product: string, population: string]>; atMs: number }
  | { op: 'reserve-populations'; job: string; researcher: string; populations: ChargedPopulation[]; rho: number; epsilon: number | null; delta: number; atMs: number; project?: string }
  | { op: 'project-budget'; project: string; population: string; epsilon: number; delta: number; setBy: string; atMs: number }
  | { op: 'population-budget'; researcher: string; population: string; epsilon: number; delta: number; setBy: string; atMs: number };

/** The one serialisation that is hashed: fixed key order, JSON numbers (shortest round-trip form of a double). */
export function canonicalEntry(e: LedgerEvent): string {
  switch (e.op) {
    case 'reserve':
      return JSON.stringify({ op: e.op, job: e.job, researcher: e.researcher, product: e.product, rho: e.rho, epsilon: e.epsilon, delta: e.delta, atMs: e.atMs });
    case 'commit':
      return JSON.stringify({ op: e.op, job: e.job });
    case 'budget':
      return JSON.stringify({ op: e.op, researcher: e.researcher, product: e.product, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
    case 'migrate-populations':
      return JSON.stringify({ op: e.op, mapping: e.mapping.map(([a, b]) => [a, b]), atMs: e.atMs });
    case 'reserve-populations':
      return JSON.stringify({
        op: e.op, job: e.job, researcher: e.researcher, populations: e.populations.map((p) => ({ population: p.population, products: [...p.products] })),
        rho: e.rho, epsilon: e.epsilon, delta: e.delta, atMs: e.atMs,
        // Only when the job names a project: entries written before project budgets keep their exact form and hash.
        ...(e.project !== undefined ? { project: e.project } : {}),
      });
    case 'project-budget':
      return JSON.stringify({ op: e.op, project: e.project, population: e.population, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
    case 'population-budget':
      return JSON.stringify({ op: e.op, researcher: e.researcher, population: e.population, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
  }
}

export function chainHash(prevHash: string, entry: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(entry).digest('hex');
}

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const strList = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);
const isMapping = (v: unknown): v is Array<[string, string]> => Array.isArray(v) && v.every((x) => Array.isArray(x) && x.length === 2 && str(x[0]) && str(x[1]));
const isCharged = (v: unknown): v is ChargedPopulation[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => x !== null && typeof x === 'object' && str((x as ChargedPopulation).population) && strList((x as ChargedPopulation).products));

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
  } else if (o.op === 'migrate-populations' && isMapping(o.mapping) && num(o.atMs)) {
    e = { op: 'migrate-populations', mapping: o.mapping, atMs: o.atMs };
  } else if (o.op === 'reserve-populations' && str(o.job) && str(o.researcher) && isCharged(o.populations) && num(o.rho) && (o.epsilon === null || num(o.epsilon)) && num(o.delta) && num(o.atMs)) {
    e = { op: 'reserve-populations', job: o.job, researcher: o.researcher, populations: o.populations, rho: o.rho, epsilon: o.epsilon as number | null, delta: o.delta, atMs: o.atMs, ...(str(o.project) ? { project: o.project } : {}) };
  } else if (o.op === 'population-budget' && str(o.researcher) && str(o.population) && num(o.epsilon) && num(o.delta) && str(o.setBy) && num(o.atMs)) {
    e = { op: 'population-budget', researcher: o.researcher, population: o.population, epsilon: o.epsilon, delta: o.delta, setBy: o.setBy, atMs: o.atMs };
  } else if (o.op === 'project-budget' && str(o.project) && str(o.population) && num(o.epsilon) && num(o.delta) && str(o.setBy) && num(o.atMs)) {
    e = { op: 'project-budget', project: o.project, population: o.population, epsilon: o.epsilon, delta: o.delta, setBy: o.setBy, atMs: o.atMs };
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

type ChargeState = 'reserved' | 'committed';
export interface ReplayedProductCharge { researcher: string; product: string; rho: number; epsilon: number | null; delta: number; state: ChargeState; atMs: number }
export interface ReplayedBudget { researcher: string; epsilon: number; delta: number; setBy: string; atMs: number }
export interface ReplayedPopulationCharge { job: string; researcher: string; population: string; products: string[]; rho: number; epsilon: number | null; delta: number; state: ChargeState; atMs: number; project: string | null }
export interface ReplayedProjectBudget { project: string; population: string; epsilon: number; delta: number; setBy: string; atMs: number }

/**
 * What replaying the chain says the ledger tables must hold: the per-product tables (`charges`, `budgets`) until
 * the migration, the per-population ones (`population_charges`, `population_budgets`) after it.
 */
export interface ReplayedLedger {
  schema: 'empty' | 'product' | 'population';
  /** Per-product charges by job id (empty after the migration). */
  charges: Map<string, ReplayedProductCharge>;
  /** Per-product budgets by {@link budgetKey} (empty after the migration). */
  budgets: Map<string, ReplayedBudget & { product: string }>;
  /** Per-population charges by {@link chargeKey}. */
  populationCharges: Map<string, ReplayedPopulationCharge>;
  /** Per-population budgets by {@link budgetKey} (researcher, population). */
  populationBudgets: Map<string, ReplayedBudget & { population: string }>;
  /** Per-project budgets by {@link budgetKey} (project, population). */
  projectBudgets: Map<string, ReplayedProjectBudget>;
}

export const budgetKey = (researcher: string, unit: string): string => JSON.stringify([researcher, unit]);
export const chargeKey = (job: string, population: string): string => JSON.stringify([job, population]);

/** The setter recorded on a population budget made by the migration. */
export const MIGRATION_SETTER = 'migration';

/**
 * Per-product budgets of one researcher merged into their population's: the smallest ε and the smallest δ (stricter
 * than any of them). Pure, shared by the migration and the replay so both compute the very same rows.
 */
export function mergeBudgets(
  budgets: Iterable<ReplayedBudget & { product: string }>, populationOf: (product: string) => string | undefined, atMs: number,
): Map<string, ReplayedBudget & { population: string; products: string[] }> {
  const out = new Map<string, ReplayedBudget & { population: string; products: string[] }>();
  for (const b of budgets) {
    const population = populationOf(b.product);
    if (population === undefined) continue;
    const key = budgetKey(b.researcher, population);
    const x = out.get(key);
    if (!x) out.set(key, { researcher: b.researcher, population, epsilon: b.epsilon, delta: b.delta, setBy: MIGRATION_SETTER, atMs, products: [b.product] });
    else {
      x.epsilon = Math.min(x.epsilon, b.epsilon);
      x.delta = Math.min(x.delta, b.delta);
      x.products.push(b.product);
    }
  }
  for (const x of out.values()) x.products.sort();
  return out;
}

type Replay = { ok: true; ledger: ReplayedLedger } | { ok: false; seq: number; problem: string };

/**
 * Folds events into the ledger state they describe.
 * @returns the state, or the first event that cannot apply (a second reservation of a job, a commit without one,
 * a per-product event after the migration, a per-population one before it)
 */
export function replay(events: Iterable<{ seq: number; event: LedgerEvent }>): Replay {
  const ledger: ReplayedLedger = { schema: 'empty', charges: new Map(), budgets: new Map(), populationCharges: new Map(), populationBudgets: new Map(), projectBudgets: new Map() };
  /** Job id → its population charge keys (a commit commits them all). */
  const jobs = new Map<string, string[]>();
  const fail = (seq: number, problem: string): Replay => ({ ok: false, seq, problem });
  for (const { seq, event: e } of events) {
    if (e.op === 'reserve' || e.op === 'budget') {
      if (ledger.schema === 'population') return fail(seq, `a per-product ${e.op} after the migration to populations`);
      ledger.schema = 'product';
    } else if (e.op === 'reserve-populations' || e.op === 'population-budget' || e.op === 'project-budget') {
      if (ledger.schema === 'product') return fail(seq, `a per-population ${e.op} before the migration to populations`);
      ledger.schema = 'population';
    }
    if (e.op === 'reserve') {
      if (ledger.charges.has(e.job)) return fail(seq, `job ${e.job} is reserved twice`);
      ledger.charges.set(e.job, { researcher: e.researcher, product: e.product, rho: e.rho, epsilon: e.epsilon, delta: e.delta, state: 'reserved', atMs: e.atMs });
    } else if (e.op === 'budget') {
      ledger.budgets.set(budgetKey(e.researcher, e.product), { researcher: e.researcher, product: e.product, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
    } else if (e.op === 'commit') {
      const legacy = ledger.charges.get(e.job);
      const keys = jobs.get(e.job) ?? [];
      const open = keys.map((k) => ledger.populationCharges.get(k)!).filter((c) => c.state === 'reserved');
      if (legacy?.state === 'reserved') legacy.state = 'committed';
      else if (open.length > 0) for (const c of open) c.state = 'committed';
      else return fail(seq, `commit of job ${e.job} without an open reservation`);
    } else if (e.op === 'migrate-populations') {
      if (ledger.schema === 'population') return fail(seq, 'a second migration to populations');
      const mapping = new Map(e.mapping);
      if (mapping.size !== e.mapping.length) return fail(seq, 'the migration maps a product twice');
      const unmapped = [...ledger.charges.values(), ...ledger.budgets.values()].find((x) => !mapping.has(x.product));
      if (unmapped) return fail(seq, `the migration does not map product ${unmapped.product}`);
      for (const [job, c] of ledger.charges) {
        const population = mapping.get(c.product)!;
        const key = chargeKey(job, population);
        ledger.populationCharges.set(key, { job, researcher: c.researcher, population, products: [c.product], rho: c.rho, epsilon: c.epsilon, delta: c.delta, state: c.state, atMs: c.atMs, project: null });
        jobs.set(job, [key]);
      }
      for (const [key, b] of mergeBudgets(ledger.budgets.values(), (p) => mapping.get(p), e.atMs)) {
        const { products: _p, ...row } = b;
        ledger.populationBudgets.set(key, row);
      }
      ledger.charges.clear();
      ledger.budgets.clear();
      ledger.schema = 'population';
    } else if (e.op === 'reserve-populations') {
      if (jobs.has(e.job) || ledger.charges.has(e.job)) return fail(seq, `job ${e.job} is reserved twice`);
      const keys: string[] = [];
      for (const p of e.populations) {
        const key = chargeKey(e.job, p.population);
        if (ledger.populationCharges.has(key)) return fail(seq, `job ${e.job} charges population ${p.population} twice`);
        ledger.populationCharges.set(key, { job: e.job, researcher: e.researcher, population: p.population, products: [...p.products], rho: e.rho, epsilon: e.epsilon, delta: e.delta, state: 'reserved', atMs: e.atMs, project: e.project ?? null });
        keys.push(key);
      }
      jobs.set(e.job, keys);
    } else if (e.op === 'project-budget') {
      ledger.projectBudgets.set(budgetKey(e.project, e.population), { project: e.project, population: e.population, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
    } else {
      ledger.populationBudgets.set(budgetKey(e.researcher, e.population), { researcher: e.researcher, population: e.population, epsilon: e.epsilon, delta: e.delta, setBy: e.setBy, atMs: e.atMs });
    }
  }
  return { ok: true, ledger };
}
