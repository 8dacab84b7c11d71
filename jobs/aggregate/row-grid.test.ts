/**
 * Red team 46, H1: in mode none a SQL engine that rounds each row to BIGINT (PostgreSQL's `roundToInteger`) failed on
 * a real column's Σx² (on the 2^-32 grid) only when some row above 46 341 matched the filter — with a filter isolating
 * one person, a yes/no about that person. The plan now keeps every row's value within 2^61 grid units from the public
 * bounds alone (common/job/privacy-plan.ts `gridBitsWithin`). Run here on DuckDB with PostgreSQL's rounding
 * expression, so no server is needed; the negative control shows that expression failing on the old grid.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileKindJob } from '../../common/kinds/index.js';
import { momentStats } from '../../algorithms/aggregate/index.js';
import { duckdbSession } from '../../node-agent/data/source/duckdb-source.js';
import { duckdbDialect, postgresDialect } from '../../node-agent/sql/index.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { aggregateKind, aggregatePrivacyPlan } from './index.js';
import { aggregateAgentKind } from './agent.js';

const product: ProductInfo = { name: 'p', columns: [{ name: 'pid', type: 'BIGINT' }, { name: 'tag', type: 'VARCHAR' }, { name: 'income', type: 'DOUBLE' }], privacyUnit: 'pid', description: '', source: '' };
const spec = (tag: string): Record<string, unknown> => ({ kind: 'aggregate', product: 'p', where: [{ column: 'tag', op: '=', value: tag }], measures: [{ fn: 'mean', column: 'income', bounds: [0, 200000] }], privacy: { mode: 'none' } });

describe('mode none: one row on the grid fits a BIGINT whatever the data (PostgreSQL rounding)', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    // 20 persons: 'high' earns 80 000 (above 46 341), 'low' 30 000, the rest 10 000.
    await conn.run(`CREATE TABLE p AS SELECT i AS pid, CASE i WHEN 0 THEN 'high' WHEN 1 THEN 'low' ELSE 'x' || i END AS tag, CASE i WHEN 0 THEN 80000.0 WHEN 1 THEN 30000.0 ELSE 10000.0 END AS income FROM range(20) t(i)`);
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
  });

  const ask = async (tag: string): Promise<string> => {
    const session = { ...duckdbSession(conn), dialect: { ...duckdbDialect, roundToInteger: postgresDialect.roundToInteger } };
    try {
      await aggregateAgentKind.onSource!({ conn, jobId: `j-${tag}`, round: 0, product, salt: 's', policy: { minCellSize: 5 }, jobState: new Map() }, compileKindJob(aggregateKind, spec(tag)), null, session, new AbortController().signal);
      return 'answered';
    } catch (e) {
      return `refused: ${(e as Error).message}`;
    }
  };

  it('a person above 46 341 and one below are answered alike (each a group of 1, withheld)', async () => {
    expect(await ask('high')).toBe('answered');
    expect(await ask('low')).toBe('answered');
  });

  it('the plan keeps bound² on the square grid within 2^61 (a real column bounded [0, 200 000]: 2^-25, not 2^-32)', () => {
    const l = aggregatePrivacyPlan(compileKindJob(aggregateKind, spec('x')).spec as never).layout[0]!;
    expect(l).toMatchObject({ kind: 'moments', scaleBits: 16, sqScaleBits: 25 });
    expect(200000 ** 2 * 2 ** (l.kind === 'moments' ? l.sqScaleBits : 0)).toBeLessThanOrEqual(2 ** 61);
    // Bounds whose squares fit keep the 2^-16 / 2^-32 grids (the goldens' bmi [10, 60]).
    expect(aggregatePrivacyPlan(compileKindJob(aggregateKind, { ...spec('x'), measures: [{ fn: 'mean', column: 'income', bounds: [10, 60] }] }).spec as never).layout[0]).toMatchObject({ scaleBits: 16, sqScaleBits: 32 });
  });

  it('bounds beyond ±2^61 cannot be summed exactly: refused from the spec, naming the bounds', () => {
    let err: unknown;
    try {
      compileKindJob(aggregateKind, { ...spec('x'), measures: [{ fn: 'sum', column: 'income', bounds: [0, 1e300] }] });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'INVALID_JOB', field: 'measures[0].bounds' });
    // Just inside: the values on 2^0, Σx² on a grid coarser than 1 (its relative rounding below 2^-60).
    const l = aggregatePrivacyPlan(compileKindJob(aggregateKind, { ...spec('x'), measures: [{ fn: 'mean', column: 'income', bounds: [0, 2 ** 60] }] }).spec as never).layout[0]!;
    expect(l).toMatchObject({ scaleBits: 1, sqScaleBits: -59 });
  });

  it('a release reads Σx² on a grid coarser than 1 exactly (it threw before: red team 47)', () => {
    // Values 2^40 and 0 on 2^0; Σx² = 2^80 on the grid 2^10 is 2^70 units.
    const m = momentStats({ kind: 'moments', n: 2n, sum: 1n << 40n, sumSq: 1n << 70n, scaleBits: 0, sqScaleBits: -10 });
    expect(m).toEqual({ n: 2, sum: 2 ** 40, mean: 2 ** 39, variance: 2 ** 79 });
    // The same statistics on the fine grids give the same numbers (control).
    expect(momentStats({ kind: 'moments', n: 2n, sum: 1n << 40n, sumSq: 1n << 80n, scaleBits: 0, sqScaleBits: 0 })).toEqual(m);
  });

  it('negative control: PostgreSQL\'s rounding of 80 000² on the old 2^-32 grid fails (BIGINT out of range)', async () => {
    const round = postgresDialect.roundToInteger(`CAST(80000.0 AS DOUBLE) * CAST(80000.0 AS DOUBLE) * ${2 ** 32}.0`);
    await expect(conn.run(`SELECT ${round}`)).rejects.toThrow(/out of range|overflow/i);
    const ok = postgresDialect.roundToInteger(`CAST(80000.0 AS DOUBLE) * CAST(80000.0 AS DOUBLE) * ${2 ** 25}.0`);
    await expect(conn.run(`SELECT ${ok}`)).resolves.toBeDefined();
  });
});
