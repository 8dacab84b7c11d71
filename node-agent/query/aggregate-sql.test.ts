import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import * as dp from '../../algorithms/dp/index.js';
import type { MomentPartial } from '../../algorithms/aggregate/index.js';
import { parseJobSpec, planAggregatePrivacy, type AgentMeasureLayout } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import { dpRowRange } from './aggregate-sql.js';
import { queryGroupStatistics } from './group-statistics.js';

type Moments = Extract<AgentMeasureLayout, { kind: 'moments' }>;
const AWKWARD: [number, number][] = [
  [0.1, 0.7],
  [-3.3, 1e6],
  [1e-9, 3],
  [5, 200],
  [-7.77, 7.77],
];

function plan(fn: 'sum' | 'mean' | 'variance', bounds: [number, number], epsilon = 1) {
  const job = parseJobSpec({ kind: 'aggregate', product: 'p', measures: [{ fn, column: 'x', bounds }], privacy: { mode: 'central-dp', epsilon, delta: 1e-6 } }) as AggregateJob;
  return { job, privacy: planAggregatePrivacy(job, () => 'DOUBLE') };
}

/** Issue 15 item 6: the agent re-clamps after grid rounding, to exactly the per-row bounds the noise is calibrated for. */
describe('agent SQL: per-row bounds after grid rounding', () => {
  it('the re-clamp bounds are the plan\'s own row bounds (bounded sum: rowBound; mean/variance: ±halfWidth and halfWidth²)', () => {
    for (const b of AWKWARD) {
      const s = plan('sum', b).privacy;
      const sp = (s.dp!.measures[0] as { plan: dp.BoundedSumPlan }).plan;
      const r = dpRowRange(s.layout[0] as Moments);
      expect(r.hi > -r.lo ? r.hi : -r.lo).toBe(sp.rowBound);
      const v = plan('variance', b).privacy;
      const vp = (v.dp!.measures[0] as { plan: dp.MeanVariancePlan }).plan;
      const rv = dpRowRange(v.layout[0] as Moments);
      expect(rv.hi).toBe(dp.gridRange(-vp.halfWidth, vp.halfWidth, vp.sumGrid).hi);
      expect(rv.lo).toBe(dp.gridRange(-vp.halfWidth, vp.halfWidth, vp.sumGrid).lo);
      expect(rv.sqHi).toBe(dp.gridRange(0, vp.halfWidth * vp.halfWidth, vp.sumSquaresGrid!).hi);
    }
  });

  it('on values at, beyond and just inside the bounds, the agent\'s sums equal the pure reference (clamp, snap, clamp again)', async () => {
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      for (const b of AWKWARD) {
        const [lo, hi] = b;
        const values = [lo, hi, lo - 1, hi * 10 + 1, hi - Number.EPSILON * Math.abs(hi), lo + Number.EPSILON * Math.abs(lo), (lo + hi) / 2, hi / 3];
        await conn.run('CREATE OR REPLACE TABLE p (person_id BIGINT, x DOUBLE)');
        for (const [i, x] of values.entries()) await conn.run(`INSERT INTO p VALUES (${i + 1}, ${x})`);
        for (const fn of ['sum', 'variance'] as const) {
          const { job, privacy } = plan(fn, b);
          const stats = await queryGroupStatistics(conn, job, { name: 'p', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'x', type: 'DOUBLE' }], privacyUnit: 'person_id', description: '', source: '' }, privacy, 'salt');
          const m = stats.groups[0]!.measures[0] as MomentPartial;
          if (fn === 'sum') {
            const sp = (privacy.dp!.measures[0] as { plan: dp.BoundedSumPlan }).plan;
            expect(m.sum, `sum ${b.join(':')}`).toBe(dp.boundedSumAggregate(values, sp));
          } else {
            const vp = (privacy.dp!.measures[0] as { plan: dp.MeanVariancePlan }).plan;
            const ref = dp.meanVarianceAggregate(values, vp);
            expect(m.sum, `centred sum ${b.join(':')}`).toBe(ref.sum);
            expect(m.sumSq, `sum of squares ${b.join(':')}`).toBe(ref.sumSquares);
          }
        }
      }
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
  });
});
