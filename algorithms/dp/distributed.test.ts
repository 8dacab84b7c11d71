import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { rhoDistributedDiscreteGaussian } from './accounting/distributed-gaussian.js';
import { planDistributedNoise, sampleNoiseShare, sampleNoiseShares } from './distributed.js';

describe('distributed noise shares', () => {
  it('any n − k honest shares carry at least the target privacy', () => {
    const plan = planDistributedNoise({ agents: 10, tolerated: 3, l2Sensitivity: 100, rho: 0.5 });
    expect(plan.minHonestShares).toBe(7);
    expect(plan.rho).toBeLessThanOrEqual(0.5);
    expect(rhoDistributedDiscreteGaussian(100, plan.shareSigma2Value, 7)).toBeLessThanOrEqual(0.5);
    // remaining variance ≥ the central σ² = Δ²/(2ρ)
    expect(plan.minTotalVariance).toBeGreaterThanOrEqual(100 * 100);
    // and not wastefully more than 1% above it when shares are large
    expect(plan.minTotalVariance / (100 * 100)).toBeLessThan(1.01);
  });
  it('never uses shares below σ² = 1/4 (KLS requirement) and rejects bad options', () => {
    const plan = planDistributedNoise({ agents: 50, l2Sensitivity: 1, rho: 2 });
    expect(plan.shareSigma2Value).toBeGreaterThanOrEqual(0.25);
    expect(() => planDistributedNoise({ agents: 3, tolerated: 3, l2Sensitivity: 1, rho: 1 })).toThrow(/tolerated/);
    expect(() => planDistributedNoise({ agents: 0, l2Sensitivity: 1, rho: 1 })).toThrow(/agents/);
  });
  it('the sum of shares has the planned variance (5 SE)', () => {
    const plan = planDistributedNoise({ agents: 5, tolerated: 1, l2Sensitivity: 10, rho: 0.5 });
    const rng = createSeededRng('dist');
    const N = 20000;
    let ss = 0;
    for (let i = 0; i < N; i++) {
      let s = 0n;
      for (let a = 0; a < 5; a++) s += sampleNoiseShare(plan, rng);
      ss += Number(s) ** 2;
    }
    const v = 5 * plan.shareSigma2Value;
    expect(Math.abs(ss / N / v - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(sampleNoiseShares(plan, 3, rng)).toHaveLength(3);
  });
});
