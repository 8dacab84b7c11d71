import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../../common/errors.js';
import { listProducts } from '../products.js';
import { describeProducts } from './defaults.js';
import { coarsenCount, coarsenFraction, dateBuckets, roundTwoSignificant } from './disclosure.js';
import { computeQualityMetrics } from './quality.js';
import type { ProductDescription } from './types.js';

describe('disclosure rules', () => {
  it('coarsens counts: "< k" below k, two significant figures from k on', () => {
    expect(coarsenCount(0, 5)).toBe('< 5');
    expect(coarsenCount(4, 5)).toBe('< 5');
    expect(coarsenCount(5, 5)).toBe(5);
    expect(coarsenCount(56, 5)).toBe(56);
    expect(coarsenCount(12_345, 10)).toBe(12_000);
    expect(coarsenCount(995, 10)).toBe(1000);
    expect(coarsenCount(1_049_999, 10)).toBe(1_000_000);
    expect(roundTwoSignificant(2694)).toBe(2700);
    expect(() => coarsenCount(3, 0)).toThrow(RangeError);
    expect(() => coarsenCount(3, 2.5)).toThrow(/opts\.minCellSize must be an integer >= 1/);
    expect(() => coarsenCount(-1, 5)).toThrow(RangeError);
  });

  it('coarsens fractions to a step worth at least k rows, and publishes none below k rows', () => {
    expect(coarsenFraction(7_512, 10_000, 10)).toBe(0.75);
    expect(coarsenFraction(1_234, 10_000, 10)).toBe(0.12);
    // 57 rows, k = 5: a step of 0.1 is 5.7 rows. One missing value does not show.
    expect(coarsenFraction(56, 57, 5)).toBe(1);
    expect(coarsenFraction(50, 57, 5)).toBe(0.9);
    // 40 rows, k = 10: step 0.25.
    expect(coarsenFraction(29, 40, 10)).toBe(0.75);
    expect(coarsenFraction(3, 4, 5)).toBeUndefined();
    expect(coarsenFraction(0, 100, 1)).toBe(0);
    expect(() => coarsenFraction(5, 4, 1)).toThrow(RangeError);
  });

  it('puts dates in month, quarter and year buckets, and refuses odd dates', () => {
    expect(dateBuckets('2019-11-30')).toEqual({
      month: { label: '2019-11', start: '2019-11-01', end: '2019-12-01' },
      quarter: { label: '2019-Q4', start: '2019-10-01', end: '2020-01-01' },
      year: { label: '2019', start: '2019-01-01', end: '2020-01-01' },
    });
    expect(dateBuckets('2020-12-31')?.month.end).toBe('2021-01-01');
    expect(dateBuckets('2020-02-10')?.quarter).toEqual({ label: '2020-Q1', start: '2020-01-01', end: '2020-04-01' });
    expect(dateBuckets('infinity')).toBeUndefined();
    expect(dateBuckets('10000-01-01')).toBeUndefined();
  });
});

describe('computeQualityMetrics', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeEach(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
  });
  afterEach(() => {
    conn.closeSync();
    instance.closeSync();
  });

  async function describeTable(name: string): Promise<ProductDescription> {
    const p = describeProducts(await listProducts(conn)).find((d) => d.name === name);
    if (p === undefined) throw new Error(`no product ${name}`);
    return p;
  }

  /**
   * 12,345 events of 2,000 persons over 2015-01-01 … 2019-12-31, plus a few outlying rows:
   * - `onset`: 3 persons in 2014-10 and 3 in 2014-12 → first month too small, quarter 2014-Q4 holds 6;
   * - `recorded`: 2 persons in 2013-02 and 3 in 2013-11 → month and quarter too small, year 2013 holds 5;
   * - `discharged`: 1 person in 1990-05 → first date not published; and 12 rows of one person in 2020-06 →
   *   12 rows but 1 person, so the last month is not published either (the quarter holds more).
   */
  async function makeEvents(): Promise<void> {
    await conn.run(`CREATE TABLE events AS
      SELECT i AS event_id, i % 2000 AS person_id,
        CASE WHEN i % 4 = 0 THEN NULL ELSE i * 0.5 END AS dose,
        CAST(NULL AS VARCHAR) AS comment,
        'x' AS code,
        DATE '2015-01-01' + CAST(i % 1826 AS INTEGER) AS onset,
        TIMESTAMP '2015-01-01 08:00:00' + to_days(CAST(i % 1826 AS INTEGER)) AS recorded,
        DATE '2015-01-01' + CAST(i % 1826 AS INTEGER) AS discharged
      FROM range(12345) t(i)`);
    await conn.run(`INSERT INTO events (event_id, person_id, dose, comment, code, onset, recorded, discharged)
      SELECT 100000 + i, 5000 + i, NULL, NULL, NULL,
        CASE WHEN i < 3 THEN DATE '2014-10-20' ELSE DATE '2014-12-02' END,
        CASE WHEN i < 2 THEN TIMESTAMP '2013-02-03 10:00:00' ELSE TIMESTAMP '2013-11-03 10:00:00' END,
        CASE WHEN i = 0 THEN DATE '1990-05-05' ELSE DATE '2016-06-06' END
      FROM range(6) t(i)`);
    await conn.run(`INSERT INTO events (event_id, person_id, dose, comment, code, onset, recorded, discharged)
      SELECT 200000 + i, 7, NULL, NULL, NULL, DATE '2016-01-01', TIMESTAMP '2016-01-01 00:00:00', DATE '2020-06-15'
      FROM range(12) t(i)`);
    // The months of 2020-Q2 before June: 5 more persons, so the quarter is safe.
    await conn.run(`INSERT INTO events (event_id, person_id, dose, comment, code, onset, recorded, discharged)
      SELECT 300000 + i, 10 + i, NULL, NULL, NULL, DATE '2016-01-01', TIMESTAMP '2016-01-01 00:00:00', DATE '2020-04-10'
      FROM range(5) t(i)`);
  }

  it('reports completeness per column, coarsened counts and safe date coverage', async () => {
    await makeEvents();
    const product = await describeTable('events');
    expect(product.privacyUnit).toBe('person_id');
    const m = await computeQualityMetrics(conn, product, { minCellSize: 5 });
    // 12,345 + 6 + 12 + 5 = 12,368 rows; 2,000 + 6 + 5 persons (7 and 10…14 overlap the first 2,000).
    expect(m.rowCount).toBe(12_000);
    expect(m.privacyUnits).toBe(2_000);
    expect(m.minCellSize).toBe(5);
    // dose: 12,345 · 3/4 present, rounded: 9,258 / 12,368 = 0.7485…
    expect(m.completeness).toEqual({
      event_id: 1, person_id: 1, dose: 0.75, comment: 0, code: 1, onset: 1, recorded: 1, discharged: 1,
    });
    expect(m.dateCoverage).toEqual({
      onset: { from: '2014-Q4', to: '2019-12' },
      recorded: { from: '2013', to: '2019-12' },
      discharged: { to: '2020-Q2' },
    });
  });

  it('counts rows, not persons, for a product without a privacy unit', async () => {
    await makeEvents();
    const product = { ...(await describeTable('events')), privacyUnit: undefined };
    const m = await computeQualityMetrics(conn, product, { minCellSize: 5 });
    expect(m.privacyUnits).toBeUndefined();
    // 12 rows in 2020-06 now reach k (they were one person before).
    expect(m.dateCoverage['discharged']).toEqual({ to: '2020-06' });
  });

  it('reports a small table as "< k" with no completeness and no dates', async () => {
    await conn.run(`CREATE TABLE tiny AS SELECT i AS person_id, DATE '2020-01-01' AS d FROM range(3) t(i)`);
    const m = await computeQualityMetrics(conn, await describeTable('tiny'), { minCellSize: 5 });
    expect(m).toEqual({ product: 'tiny', minCellSize: 5, rowCount: '< 5', privacyUnits: '< 5', dateCoverage: {} });
    await conn.run('CREATE TABLE empty (person_id BIGINT, d DATE)');
    expect((await computeQualityMetrics(conn, await describeTable('empty'), { minCellSize: 1 })).rowCount).toBe('< 1');
  });

  it('never publishes an exact count below k, whatever the table size', async () => {
    await conn.run('CREATE TABLE sizes (person_id BIGINT, d DATE)');
    const product = await describeTable('sizes');
    for (const n of [1, 4, 9, 10, 11, 57, 123, 999]) {
      await conn.run('DELETE FROM sizes');
      await conn.run(`INSERT INTO sizes SELECT i, DATE '2021-03-01' FROM range(${n}) t(i)`);
      const m = await computeQualityMetrics(conn, product, { minCellSize: 10 });
      if (n < 10) expect(m.rowCount, String(n)).toBe('< 10');
      else expect(m.rowCount, String(n)).toBe(roundTwoSignificant(n));
      expect(m.dateCoverage['d'], String(n)).toEqual(n < 10 ? undefined : { from: '2021-03', to: '2021-03' });
    }
  });

  it('quotes odd identifiers, refuses unknown products and bad k', async () => {
    await conn.run(`CREATE TABLE "we""ird tbl" AS SELECT i AS "pid; DROP TABLE x", CASE WHEN i < 5 THEN NULL ELSE i END AS "a""b" FROM range(20) t(i)`);
    const product = { ...(await describeTable('we"ird tbl')), privacyUnit: 'pid; DROP TABLE x' };
    const m = await computeQualityMetrics(conn, product, { minCellSize: 2 });
    expect(m.rowCount).toBe(20);
    // 20 rows, k = 2: a step of 0.1 (2 rows); 15/20 rounds half up.
    expect(m.completeness).toEqual({ 'pid; DROP TABLE x': 1, 'a"b': 0.8 });
    await expect(computeQualityMetrics(conn, { ...product, name: 'nope' }, { minCellSize: 2 }))
      .rejects.toSatisfy((e: unknown) => e instanceof FedmeshError && e.code === 'NOT_FOUND');
    await expect(computeQualityMetrics(conn, product, { minCellSize: 0 })).rejects.toThrow(RangeError);
  });

  it('runs two queries over a 1 M row table quickly', async () => {
    await conn.run(`CREATE TABLE big AS SELECT i AS person_id, i % 1000 AS visit_id, CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS v,
        'c' || (i % 7) AS cat, DATE '2000-01-01' + CAST(i % 7000 AS INTEGER) AS d1,
        TIMESTAMP '2000-01-01' + to_seconds(i * 200) AS d2
      FROM range(1000000) t(i)`);
    const product = await describeTable('big');
    const start = performance.now();
    const m = await computeQualityMetrics(conn, product, { minCellSize: 10 });
    const ms = performance.now() - start;
    expect(m.rowCount).toBe(1_000_000);
    expect(m.completeness?.['v']).toBe(0.67);
    // The last date, 2000-01-01 + 6999 days, is 2019-03-01; about 143 persons share it.
    expect(m.dateCoverage['d1']).toEqual({ from: '2000-01', to: '2019-03' });
    console.info(`quality metrics over 1 M rows: ${ms.toFixed(0)} ms`);
    // A generous limit for shared CI cores; measured at a few hundred ms.
    expect(ms).toBeLessThan(5000);
  });
});
