/**
 * Issue 15 item 1: a coordinator state written by the per-product ledger (budgets and charges keyed by researcher ×
 * data product) opens with the population ledger. The old state is built here with the old DDL and the old
 * chain events, as the old code wrote them, not copied from a file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fitsBudget, parseJobSpec } from '../../common/job/index.js';
import { Coordinator } from '../coordinator.js';
import { insertJob, JobStore } from '../job-store.js';
import type { JobRecord } from '../job-record.js';
import { checkCoordinatorState } from './check-state.js';
import { appendEvents, createChainTable, GENESIS_HASH, replay, type LedgerEvent } from './ledger-chain.js';
import { headPath, writeHead } from './state-head.js';
import { withStateDb } from '../../test/helpers/state-db.js';

/** The per-product DDL of the ledger before populations, verbatim. */
const OLD_DDL = [
  `CREATE TABLE IF NOT EXISTS budgets (researcher VARCHAR NOT NULL, product VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, delta DOUBLE NOT NULL, set_by VARCHAR NOT NULL, set_at_ms BIGINT NOT NULL, PRIMARY KEY (researcher, product))`,
  `CREATE TABLE IF NOT EXISTS charges (job_id VARCHAR PRIMARY KEY, researcher VARCHAR NOT NULL, product VARCHAR NOT NULL, rho DOUBLE NOT NULL, epsilon DOUBLE, delta DOUBLE NOT NULL, state VARCHAR NOT NULL, at_ms BIGINT NOT NULL)`,
];

const BUDGETS: Array<[string, string, number, number]> = [
  ['alice', 'person', 5, 1e-6],
  ['alice', 'measurement', 2, 1e-6],
  ['alice', 'condition_occurrence', 4, 1e-7],
  ['bob', 'person', 1, 1e-6],
];
// job, researcher, product, rho, state
const CHARGES: Array<[string, string, string, number, 'committed' | 'reserved']> = [
  ['j1', 'alice', 'person', 0.125, 'committed'],
  ['j2', 'alice', 'measurement', 0.125, 'committed'],
  ['j3', 'alice', 'condition_occurrence', 0.25, 'reserved'],
  ['j4', 'bob', 'person', 0.5, 'committed'],
  // Not a name the old spec parser let through, but a state may hold anything: the row-by-row path of the migration.
  ['j5', 'carol', 'lab "ü"', 0.5, 'committed'],
];

function jobRecord(id: string, researcher: string, product: string): JobRecord {
  const spec = parseJobSpec({ kind: 'aggregate', product: /^[A-Za-z_]\w*$/.test(product) ? product : 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } });
  return { id, kind: 'aggregate', researcher, spec, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined };
}

/** What the per-product coordinator left: its tables, its jobs and (unless `chained` is false) its hash chain and head. */
async function oldState(state: string, chained: boolean): Promise<void> {
  const store = await JobStore.open(state);
  try {
    const head = await store.transaction(async (conn) => {
      for (const ddl of OLD_DDL) await conn.run(ddl);
      const events: LedgerEvent[] = [];
      for (const [i, [researcher, product, epsilon, delta]] of BUDGETS.entries()) {
        await conn.run(`INSERT INTO budgets VALUES ($1, $2, $3, $4, 'admin', $5)`, [researcher, product, epsilon, delta, 100 + i]);
        events.push({ op: 'budget', researcher, product, epsilon, delta, setBy: 'admin', atMs: 100 + i });
      }
      for (const [i, [job, researcher, product, rho]] of CHARGES.entries()) {
        await conn.run(`INSERT INTO charges VALUES ($1, $2, $3, $4, $5, 0, 'reserved', $6)`, [job, researcher, product, rho, 2 * Math.sqrt(rho), 200 + i]);
        events.push({ op: 'reserve', job, researcher, product, rho, epsilon: 2 * Math.sqrt(rho), delta: 0, atMs: 200 + i });
        await insertJob(conn, jobRecord(job, researcher, product));
      }
      for (const [job, , , , state] of CHARGES) {
        if (state !== 'committed') continue;
        await conn.run(`UPDATE charges SET state = 'committed' WHERE job_id = $1`, [job]);
        events.push({ op: 'commit', job });
      }
      if (!chained) return undefined;
      await createChainTable(conn);
      return appendEvents(conn, { seq: 0, hash: GENESIS_HASH }, events);
    });
    if (head) await writeHead(headPath(state), head);
  } finally {
    store.close();
  }
}

async function chainOps(state: string): Promise<string[]> {
  const rows = await withStateDb(state, async (conn) => (await conn.runAndReadAll('SELECT entry FROM ledger_chain ORDER BY seq')).getRowObjectsJS(), { readOnly: true });
  return rows.map((r) => (JSON.parse(String(r.entry)) as { op: string }).op);
}

describe('migration of a per-product ledger to populations', () => {
  let dir: string;
  let state: string;
  let events: Array<{ event: string; fields: Record<string, unknown> | undefined }>;
  const log = (event: string, fields?: Record<string, unknown>): void => {
    events.push({ event, fields });
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-migrate-'));
    state = join(dir, 'state');
    events = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['with its hash chain', true],
    ['from before the chain', false],
  ])('a per-product state %s opens: charges move to population person, budgets become their minimum, the chain verifies', async (_what, chained) => {
    await oldState(state, chained);
    // Negative control: the old state is what it claims to be (per-product tables, verified as such).
    const before = await checkCoordinatorState(state);
    expect(before.problems).toEqual([]);
    expect(before.report!.legacyTables).toBe(true);

    const c = await Coordinator.create({ stateDir: state, log });
    const report = await c.ledger.report();
    await c.close();
    expect(report.map((e) => [e.researcher, e.population])).toEqual([['alice', 'person'], ['bob', 'person'], ['carol', 'person']]);
    expect(report[2]).toMatchObject({ explicit: false, jobs: 1, products: ['lab "ü"'] });
    const alice = report[0]!;
    // ε: min(5, 2, 4); δ: min(1e-6, 1e-6, 1e-7). All three products' charges now count against one budget.
    expect(alice).toMatchObject({ budget: { epsilon: 2, delta: 1e-7 }, explicit: true, jobs: 3, reserved: 0, products: ['condition_occurrence', 'measurement', 'person'] });
    expect(alice.spent.rho).toBeCloseTo(0.5, 12);
    expect(report[1]).toMatchObject({ budget: { epsilon: 1, delta: 1e-6 }, jobs: 1, products: ['person'] });

    const migrated = events.filter((e) => e.event === 'ledger-migrated-to-populations');
    expect(migrated).toEqual([{ event: 'ledger-migrated-to-populations', fields: { charges: 5, budgets: 2, mapping: { condition_occurrence: 'person', 'lab "ü"': 'person', measurement: 'person', person: 'person' } } }]);
    const merged = events.filter((e) => e.event === 'ledger-budget-merged').map((e) => e.fields!);
    expect(merged.map((f) => [f.researcher, f.fromProducts])).toEqual([['alice', ['condition_occurrence', 'measurement', 'person']], ['bob', ['person']]]);
    expect(String(merged[0]!.message)).toMatch(/became one budget on population person: the minimum, ε=2 δ=1e-7/);

    const after = await checkCoordinatorState(state);
    expect(after.problems).toEqual([]);
    expect(after.report!.legacyTables).toBe(false);
    expect(after.report!.chain).toMatchObject({ ok: true, schema: 'population' });
    const ops = await chainOps(state);
    // History kept (per-product events), one migration event, then the restart's commit of the interrupted j3.
    expect(ops.slice(-2)).toEqual(['migrate-populations', 'commit']);
    expect(ops.filter((o) => o === 'budget')).toHaveLength(4);

    // A second start migrates nothing more and sees the same ledger.
    events = [];
    const again = await Coordinator.create({ stateDir: state, log });
    expect(await again.ledger.report()).toEqual(report);
    await again.close();
    expect(events.some((e) => e.event === 'ledger-migrated-to-populations')).toBe(false);
  });

  it('after the migration, ε already spent on measurement counts against a job on person', async () => {
    await oldState(state, true);
    const c = await Coordinator.create({ stateDir: state, log });
    try {
      // alice: budget ε=2 at δ=1e-7 on population person, ρ=0.5 spent over three products.
      const job = jobRecord('j5', 'alice', 'person');
      const err = await c.ledger.admit(job, [{ population: 'person', products: ['person'] }], { rho: 0.1, epsilon: 2 * Math.sqrt(0.1), delta: 0 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'BUDGET_EXHAUSTED' });
      expect((err as Error).message).toMatch(/on population person \(products person, condition_occurrence, measurement;/);
      // Negative control: the per-product ledger would have admitted it (ρ=0.125 spent on product person, budget ε=5).
      expect(fitsBudget({ rho: 0.125, epsilon: 2 * Math.sqrt(0.125), delta: 0 }, { rho: 0.1, epsilon: 2 * Math.sqrt(0.1), delta: 0 }, { epsilon: 5, delta: 1e-6 })).toBe(true);
      // And a researcher with nothing spent is admitted on the same population (the refusal is alice's spend).
      await c.ledger.admit(jobRecord('j6', 'carol', 'person'), [{ population: 'person', products: ['person'] }], { rho: 0.1, epsilon: 2 * Math.sqrt(0.1), delta: 0 });
    } finally {
      await c.close();
    }
  });
});

describe('replay of the chain across the migration', () => {
  const at = (events: LedgerEvent[]): Array<{ seq: number; event: LedgerEvent }> => events.map((event, i) => ({ seq: i + 1, event }));
  const budget = (product: string, epsilon: number): LedgerEvent => ({ op: 'budget', researcher: 'a', product, epsilon, delta: 1e-6, setBy: 'x', atMs: 1 });

  it('merges budgets to the minimum and moves charges by the recorded mapping', () => {
    const r = replay(at([budget('person', 3), budget('measurement', 1), { op: 'migrate-populations', mapping: [['measurement', 'person'], ['person', 'person']], atMs: 9 }]));
    expect(r.ok && [...r.ledger.populationBudgets.values()]).toEqual([{ researcher: 'a', population: 'person', epsilon: 1, delta: 1e-6, setBy: 'migration', atMs: 9 }]);
    expect(r.ok && r.ledger.budgets.size).toBe(0);
  });

  it('refuses per-product events after the migration, per-population ones before it, and unmapped products', () => {
    const migrate: LedgerEvent = { op: 'migrate-populations', mapping: [['person', 'person']], atMs: 9 };
    expect(replay(at([migrate, budget('person', 1)]))).toMatchObject({ ok: false, seq: 2, problem: /after the migration/ });
    expect(replay(at([budget('person', 1), { op: 'population-budget', researcher: 'a', population: 'person', epsilon: 1, delta: 1e-6, setBy: 'x', atMs: 1 }]))).toMatchObject({ ok: false, seq: 2, problem: /before the migration/ });
    expect(replay(at([budget('measurement', 1), migrate]))).toMatchObject({ ok: false, seq: 2, problem: /does not map product measurement/ });
  });

  it('a job reserved on two populations is committed on both by one commit, and cannot be reserved again', () => {
    const reserve: LedgerEvent = { op: 'reserve-populations', job: 'j', researcher: 'a', populations: [{ population: 'device', products: ['pumps'] }, { population: 'person', products: ['person'] }], rho: 0.1, epsilon: 1, delta: 0, atMs: 1 };
    const r = replay(at([reserve, { op: 'commit', job: 'j' }]));
    expect(r.ok && [...r.ledger.populationCharges.values()].map((c) => [c.population, c.state])).toEqual([['device', 'committed'], ['person', 'committed']]);
    expect(replay(at([reserve, reserve]))).toMatchObject({ ok: false, problem: /reserved twice/ });
  });
});
