import { describe, expect, it } from 'vitest';
import { planAggregatePrivacy, parseJobSpec } from '../job/index.js';
import type { AggregateJob } from '../job/index.js';
import { defaultTolerated, planSecureNoise } from './distributed-noise.js';

/** The distributed-dp share plan in process (issue 9, test pyramid): what every agent adds and what the ledgers charge. */
const typeOf = (): string => 'BIGINT';
const job = (privacy: Record<string, unknown>): AggregateJob =>
  parseJobSpec({ kind: 'aggregate', product: 'p', groupBy: ['g'], groupKeys: { g: [1, 2, 3] }, measures: [{ fn: 'count' }, { fn: 'mean', column: 'age', bounds: [0, 100] }], privacy, secure: 'secagg' }) as AggregateJob;
const plan = (privacy: Record<string, unknown>, agents: number) => {
  const j = job(privacy);
  return planSecureNoise(j, planAggregatePrivacy(j, typeOf), agents);
};

describe('planSecureNoise', () => {
  it('tolerates ⌊(n − 1)/3⌋ agents by default and charges for the n − tolerated honest shares', () => {
    expect([1, 3, 4, 7, 10].map(defaultTolerated)).toEqual([0, 0, 1, 2, 3]);
    const p = plan({ mode: 'distributed-dp', rho: 0.5 }, 7);
    expect([p.tolerated, p.minHonestShares]).toEqual([2, 5]);
    expect(Object.keys(p.measures[0]!.shares)).toEqual(['rows']);
    expect(Object.keys(p.measures[1]!.shares)).toEqual(['n', 'sum']);
    // Never charged less than the central plan it replaces.
    expect(p.cost.rho).toBeGreaterThanOrEqual(0.5 * (1 - 1e-5));
  });

  it('tolerating more agents means larger shares from each (the honest ones must still reach the target)', () => {
    const share = (tolerated: number): number => plan({ mode: 'distributed-dp', rho: 0.5, tolerated }, 7).measures[0]!.shares.rows!.plan.shareSigma2Value;
    expect(share(3)).toBeGreaterThan(share(0));
    expect(share(0)).toBeGreaterThan(0);
  });

  it('negative: a pure-ε budget (Laplace) and a tolerance of n or more are refused naming the field', () => {
    expect(() => plan({ mode: 'distributed-dp', epsilon: 1 }, 4)).toThrow(expect.objectContaining({ code: 'INVALID_JOB', field: 'privacy', message: expect.stringContaining('discrete Gaussian shares') }));
    expect(() => plan({ mode: 'distributed-dp', rho: 0.5, tolerated: 4 }, 4)).toThrow(expect.objectContaining({ code: 'INVALID_JOB', field: 'privacy.tolerated' }));
    expect(plan({ mode: 'distributed-dp', rho: 0.5, tolerated: 3 }, 4).minHonestShares).toBe(1);
  });
});
