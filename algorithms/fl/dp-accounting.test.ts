import { describe, expect, it } from 'vitest';
import { epsilonFromRho, rhoForEpsilonDelta } from '../dp/index.js';
import { planDpTraining } from './dp-accounting.js';

describe('DP training accounting (zCDP over rounds)', () => {
  it('R rounds of ρ each compose to R·ρ; the gradient block gets its share; z = 1/√(2ρ_gradient)', () => {
    const a = planDpTraining({ rho: 2, delta: 1e-5 }, 20, 0.8);
    expect(a.rhoPerRound).toBeCloseTo(0.1, 15);
    expect(a.rho).toBeCloseTo(20 * 0.1, 12);
    expect(a.gradientRhoPerRound).toBeCloseTo(0.08, 15);
    expect(a.noiseMultiplier).toBeCloseTo(2.5, 12);
    expect(a.epsilon).toBe(epsilonFromRho(2, 1e-5));
  });

  it('a target (ε, δ) gives the largest ρ within it (the project conversion), never more; negative control: charging each round the whole ρ overshoots', () => {
    const a = planDpTraining({ epsilon: 8, delta: 1e-5 }, 21, 0.7);
    expect(a.rho).toBeCloseTo(rhoForEpsilonDelta(8, 1e-5), 12);
    expect(a.epsilon).toBeLessThanOrEqual(8);
    expect(a.epsilon).toBeGreaterThan(8 - 1e-6);
    expect(epsilonFromRho(21 * a.rho, 1e-5)).toBeGreaterThan(8 * 3);
  });

  it('more rounds at the same ε: more noise per round (z grows as √R)', () => {
    const a = planDpTraining({ epsilon: 3, delta: 1e-5 }, 10, 1);
    const b = planDpTraining({ epsilon: 3, delta: 1e-5 }, 40, 1);
    expect(b.noiseMultiplier / a.noiseMultiplier).toBeCloseTo(2, 10);
  });

  it('refuses bad rounds and shares', () => {
    expect(() => planDpTraining({ rho: 1, delta: 1e-5 }, 0, 1)).toThrow(/rounds/);
    expect(() => planDpTraining({ rho: 1, delta: 1e-5 }, 3, 0)).toThrow(/gradientShare/);
    expect(() => planDpTraining({ rho: 0, delta: 1e-5 }, 3, 1)).toThrow(/rho/);
  });
});
