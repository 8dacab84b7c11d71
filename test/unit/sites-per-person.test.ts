import { describe, expect, it } from 'vitest';
import type * as dp from '../../algorithms/dp/index.js';
import { compileCoordinatorOptions } from '../../coordinator/coordinator.js';
import { planCellPrivacy, cellBlocks, planAggregatePrivacy, parseJobSpec } from '../../common/job/index.js';
import type { AggregateJob, CellJob } from '../../common/job/index.js';

const diabetes = { name: 'd', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };

function aggregate(sites: number | undefined, measure: Record<string, unknown>) {
  const privacy = { mode: 'central-dp', epsilon: 1, delta: 1e-6, ...(sites ? { maxSitesPerPerson: sites } : {}) };
  const job = parseJobSpec({ kind: 'aggregate', product: 'p', measures: [measure], privacy }) as AggregateJob;
  return planAggregatePrivacy(job, () => 'DOUBLE').dp!.measures[0]!;
}

/** Issue 15 item 4: a person at m sites contributes m × k; the sensitivity (and noise) is multiplied by m. */
describe('maxSitesPerPerson multiplies the sensitivity', () => {
  it('count: sensitivity and noise std scale by m (same ρ to 1e-5); the default is 1', () => {
    const one = aggregate(undefined, { fn: 'count' }) as { noise: dp.CalibratedNoise };
    const three = aggregate(3, { fn: 'count' }) as { noise: dp.CalibratedNoise };
    expect(one.noise.info.sensitivity).toBe(1);
    expect(three.noise.info.sensitivity).toBe(3);
    expect(three.noise.info.std / one.noise.info.std).toBeCloseTo(3, 3);
    expect(three.noise.cost.rho / one.noise.cost.rho).toBeCloseTo(1, 5);
    // Negative control: the same job with the default states the smaller noise.
    expect((aggregate(1, { fn: 'count' }) as { noise: dp.CalibratedNoise }).noise.info).toEqual(one.noise.info);
  });

  it('bounded sum and mean: the sum noise grows by m', () => {
    const s1 = aggregate(1, { fn: 'sum', column: 'x', bounds: [0, 100] }) as { plan: dp.BoundedSumPlan };
    const s4 = aggregate(4, { fn: 'sum', column: 'x', bounds: [0, 100] }) as { plan: dp.BoundedSumPlan };
    // The noise is in grid units and the grid follows the noise: compare in the value's units (tolerance 5 %).
    const inValue = (p: dp.BoundedSumPlan): number => p.noise.info.std * p.grid.size;
    expect(inValue(s4.plan) / inValue(s1.plan)).toBeGreaterThan(3.8);
    expect(inValue(s4.plan) / inValue(s1.plan)).toBeLessThan(4.2);
    const m1 = aggregate(1, { fn: 'mean', column: 'x', bounds: [0, 100] }) as { plan: dp.MeanVariancePlan };
    const m4 = aggregate(4, { fn: 'mean', column: 'x', bounds: [0, 100] }) as { plan: dp.MeanVariancePlan };
    expect(m4.plan.countNoise.info.std / m1.plan.countNoise.info.std).toBeCloseTo(4, 3);
  });

  it('cohort-level cells: L1 and L2 of every block scale by m', () => {
    const plan = (sites: number) => {
      const job = parseJobSpec({ kind: 'cohort', definition: diabetes, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxSitesPerPerson: sites } }) as CellJob;
      return planCellPrivacy(job, cellBlocks(job));
    };
    const [a, b] = [plan(1), plan(2)];
    for (const [i, blk] of a.blocks.entries()) {
      if (!blk.noise) continue;
      expect(b.blocks[i]!.noise!.info.sensitivity / blk.noise.info.sensitivity).toBeCloseTo(2, 12);
      expect(b.blocks[i]!.noise!.info.std / blk.noise.info.std).toBeCloseTo(2, 3);
    }
  });

  it('is validated: an integer in [1, 1000], in job specs and in the coordinator options', () => {
    expect(() => parseJobSpec({ kind: 'aggregate', product: 'p', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, maxSitesPerPerson: 0 } })).toThrow(/privacy\.maxSitesPerPerson: must be an integer between 1 and 1000/);
    expect(() => compileCoordinatorOptions({ stateDir: '/tmp/x', maxSitesPerPerson: 1.5 })).toThrow(/options\.maxSitesPerPerson must be an integer/);
    expect(compileCoordinatorOptions({ stateDir: '/tmp/x' }).maxSitesPerPerson).toBe(1);
  });
});
