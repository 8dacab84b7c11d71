/**
 * The design-row differencing guard's candidate sets (person-guard.ts) on a real DuckDB rows table: one cell per
 * split side, sets of at least `minPersons` only, and — red team R3 — rows the kind leaves out after the read (train's
 * undeclared label levels, class −1) are not in the sets, so a job with declared levels that drop a rare label
 * differs from one without by exactly those persons. Control: without the row filter they are in.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designPersonGuard } from './person-guard.js';

let inst: DuckDBInstance;
let conn: Awaited<ReturnType<DuckDBInstance['connect']>>;

beforeAll(async () => {
  inst = await DuckDBInstance.create(':memory:');
  conn = await inst.connect();
  // 30 persons: 1–20 on the training side (x1 = 0), 21–30 on the test side; persons 1–3 have label class −1.
  await conn.run(`CREATE TEMP TABLE rows_t AS SELECT CASE WHEN i <= 3 THEN -1 ELSE i % 2 END AS y, CASE WHEN i > 20 THEN 1.0 ELSE 0.0 END AS x1, i AS u FROM range(1, 31) t(i)`);
});
afterAll(() => {
  conn?.closeSync();
  inst?.closeSync();
});

async function sets(opts: { rows?: string; minPersons: number; excluded?: number }): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const hook = designPersonGuard({
    salt: 's',
    minPersons: opts.minPersons,
    // With `excluded`: train's cells with declared label levels (class −1 a cell of its own, with its own minimum).
    cell: opts.excluded === undefined ? (t) => `CASE WHEN ${t} = 1 THEN 'test' ELSE 'train' END` : (t) => `CASE WHEN y < 0 THEN 'label-excluded' WHEN ${t} = 1 THEN 'test' ELSE 'train' END`,
    ...(opts.excluded !== undefined ? { cellMinimum: { cell: 'label-excluded', minPersons: opts.excluded } } : {}),
    ...(opts.rows ? { rows: opts.rows } : {}),
    guard: async (c, cand) => {
      for (const r of (await c.runAndReadAll(`SELECT cell, count(*)::INTEGER AS n FROM "${cand}" GROUP BY 1`)).getRowObjectsJS()) seen[String(r.cell)] = Number(r.n);
    },
  });
  await hook(conn, { table: 'rows_t', lastTerm: 'x1', hasUnit: true });
  return seen;
}

describe('design person guard: candidate sets', () => {
  it('R3: rows left out after the read (class −1) are not in the sets', async () => {
    expect(await sets({ rows: 'y >= 0', minPersons: 1 })).toEqual({ train: 17, test: 10 });
  });

  it('control: without the filter the excluded persons are in the training set', async () => {
    expect(await sets({ minPersons: 1 })).toEqual({ train: 20, test: 10 });
  });

  it('only sets of at least minPersons are candidates', async () => {
    expect(await sets({ rows: 'y >= 0', minPersons: 11 })).toEqual({ train: 17 });
  });

  it('the left-out persons of declared label levels are a set of their own, a candidate only from their own minimum', async () => {
    // Inside a secure sum every non-empty set is a candidate (minPersons 1), but the left-out count is released only
    // from the minimum cell size: 3 persons are a candidate at minimum 3, not at 5.
    expect(await sets({ minPersons: 1, excluded: 3 })).toEqual({ train: 17, test: 10, 'label-excluded': 3 });
    expect(await sets({ minPersons: 1, excluded: 5 })).toEqual({ train: 17, test: 10 });
  });

  it('a product without a privacy unit is not guarded', async () => {
    let called = false;
    await designPersonGuard({ salt: 's', minPersons: 1, guard: async () => void (called = true) })(conn, { table: 'rows_t', lastTerm: 'x1', hasUnit: false });
    expect(called).toBe(false);
  });
});
