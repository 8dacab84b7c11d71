import { describe, expect, it } from 'vitest';
import { simulateDpSurvival, survivalSigma2ForEpsilon, syntheticTruth } from '../testing/dp-survival-sim.js';
import { createSeededRng } from '../testing/seeded-rng.js';

/**
 * Issue 14 item 3: a DP Kaplan–Meier curve must not drift down. Cohort: 500 persons, 60 monthly bins, hazard and
 * censoring 1 % per bin (≈ 5 → 2 events per bin: small counts, where clamping bites). Noise: discrete Gaussian
 * σ² = 2/ε² per count at ε = 0.3 (σ ≈ 4.7), 400 replicates, fixed seed.
 *
 * Tolerance: the signed error of S at the last bin within 4 standard errors (of the replicate mean) + 0.01, and
 * the signed error averaged over bins within 0.01. Negative control: the old bin-by-bin clamp of negative counts
 * must fail the same check (its drift at the last bin is ≈ −0.22).
 */
const truth = syntheticTruth(500, 60, 0.01, 0.01);
const R = 400;
const sigma2 = survivalSigma2ForEpsilon(0.3);

function withinTolerance(r: { lastBinBias: number; lastBinBiasSe: number; meanBias: number }): boolean {
  return Math.abs(r.lastBinBias) <= 4 * r.lastBinBiasSe + 0.01 && Math.abs(r.meanBias) <= 0.01;
}

describe('DP Kaplan–Meier: cumulative projection is unbiased within tolerance; bin-by-bin clamping is not', () => {
  it('cumulative projection passes the bias check', () => {
    const r = simulateDpSurvival(truth, sigma2, R, createSeededRng(20261204), 'cumulative');
    expect(withinTolerance(r), JSON.stringify(r)).toBe(true);
    // Bands widened by the noise cover the exact curve at least at the nominal rate minus 5 points.
    expect(r.bandCoverage).toBeGreaterThan(0.9);
  });

  it('negative control: the old per-bin clamp fails it (the curve drifts down)', () => {
    const r = simulateDpSurvival(truth, sigma2, R, createSeededRng(20261204), 'per-bin-clamp');
    expect(withinTolerance(r)).toBe(false);
    expect(r.lastBinBias).toBeLessThan(-0.1);
  });

  it('the error shrinks as ε grows', () => {
    const errors = [0.3, 1, 3].map((eps) => simulateDpSurvival(truth, survivalSigma2ForEpsilon(eps), 200, createSeededRng(11), 'cumulative').meanAbsError);
    expect(errors[1]!).toBeLessThan(errors[0]!);
    expect(errors[2]!).toBeLessThan(errors[1]!);
  });
});
