import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../testing/seeded-rng.js';
import { epsilonFromRho } from '../accounting/zcdp.js';
import { calibrateNoise, type CalibratedNoise } from './noise.js';
import { releaseCount } from './count.js';

/**
 * Approximate-DP hypothesis test on neighbouring inputs (count 0 vs count 1, sensitivity 1), 10^6 samples per side.
 * For every threshold set S = {y ≤ s} and S = {y ≥ s} (for these noises, whose likelihood ratio is monotone, these
 * are the worst-case sets) we check, in both directions,
 *   P̂[M(a) ∈ S] ≤ e^ε · P̂[M(b) ∈ S] + δ + slack,
 * with slack = 5 · √(p̂_a(1−p̂_a)/N + e^{2ε} p̂_b(1−p̂_b)/N) + 5/N (5 standard errors of the difference plus a
 * small-count floor; about 60 sets are checked, so the family-wise false-rejection rate is below 1e−4).
 * The negative control (a mechanism with half the noise scale, claimed at the same ε) must be rejected.
 */

const N = 1_000_000;
const LN3 = Math.log(3);

function histogramOf(noise: CalibratedNoise, count: bigint, seed: string): Map<number, number> {
  const rng = createSeededRng(seed);
  const h = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    const y = Number(count + noise.sample(rng));
    h.set(y, (h.get(y) ?? 0) + 1);
  }
  return h;
}

/** Returns the worst violation (positive = test fails) over all threshold sets, both directions. */
function worstViolation(h0: Map<number, number>, h1: Map<number, number>, epsilon: number, delta: number): number {
  const keys = [...new Set([...h0.keys(), ...h1.keys()])].sort((a, b) => a - b);
  const e = Math.exp(epsilon);
  let worst = -Infinity;
  const check = (pa: number, pb: number): void => {
    const slack = 5 * Math.sqrt((pa * (1 - pa)) / N + (e * e * pb * (1 - pb)) / N) + 5 / N;
    worst = Math.max(worst, pa - e * pb - delta - slack);
  };
  for (const s of keys) {
    let le0 = 0;
    let le1 = 0;
    for (const k of keys) {
      if (k > s) break;
      le0 += h0.get(k) ?? 0;
      le1 += h1.get(k) ?? 0;
    }
    const [a, b] = [le0 / N, le1 / N];
    check(a, b);
    check(b, a);
    check(1 - a, 1 - b); // complements {y > s}
    check(1 - b, 1 - a);
  }
  return worst;
}

describe('approximate-DP hypothesis test on neighbouring counts', () => {
  it('discrete Laplace count at epsilon = ln 3 passes (and releaseCount uses the same noise)', () => {
    const budget = { epsilon: LN3 };
    const noise = calibrateNoise(budget, { l1: 1n, l2Squared: 1n });
    const r = releaseCount({ count: 0n, budget }, createSeededRng('x'));
    expect(r.noise).toEqual(noise.info);
    const v = worstViolation(histogramOf(noise, 0n, 'n0'), histogramOf(noise, 1n, 'n1'), LN3, 0);
    expect(v).toBeLessThanOrEqual(0);
  });

  it('negative control: half the noise claimed at epsilon = ln 3 is rejected', () => {
    const noise = calibrateNoise({ epsilon: 2 * LN3 }, { l1: 1n, l2Squared: 1n }); // scale 1/(2 ln 3): half
    const v = worstViolation(histogramOf(noise, 0n, 'c0'), histogramOf(noise, 1n, 'c1'), LN3, 0);
    expect(v).toBeGreaterThan(0.1);
  });

  it('discrete Gaussian count passes at the (epsilon, delta) its rho converts to', () => {
    const rho = 0.5;
    const delta = 1e-3;
    const eps = epsilonFromRho(rho, delta);
    const noise = calibrateNoise({ rho }, { l1: 1n, l2Squared: 1n });
    const v = worstViolation(histogramOf(noise, 0n, 'g0'), histogramOf(noise, 1n, 'g1'), eps, delta);
    expect(v).toBeLessThanOrEqual(0);
    // negative control: a quarter of the variance (half the std), same claim
    const weak = calibrateNoise({ rho: 4 * rho }, { l1: 1n, l2Squared: 1n });
    const w = worstViolation(histogramOf(weak, 0n, 'w0'), histogramOf(weak, 1n, 'w1'), eps, delta);
    expect(w).toBeGreaterThan(0);
  });
});
