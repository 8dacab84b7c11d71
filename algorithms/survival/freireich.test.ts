/**
 * Validation against published figures for the Freireich et al. (1963) / Gehan (1965) leukaemia remission data
 * (weeks; "+" = censored): 6-MP 6,6,6,6+,7,9+,10,10+,11+,13,16,17+,19+,20+,22,23,25+,32+,32+,34+,35+;
 * placebo 1,1,2,2,3,4,4,5,5,8,8,8,8,11,11,12,12,15,17,22,23.
 *
 * Published values used:
 * - KM and Greenwood standard errors of the 6-MP group (Kleinbaum & Klein, Survival Analysis, ch. 2; Collett;
 *   R survfit / Stata sts list print the same), to 3 and 4 decimals.
 * - 95% pointwise log-log bands (Stata sts list default, as printed on G. Rodríguez's Gehan page), 4 decimals.
 * - Median remission 23 weeks (6-MP) and 8 weeks (placebo) (Kleinbaum & Klein).
 * - Log-rank: O = 9 / 21, E = 19.25 / 10.75, Var(O − E) = 6.257, χ² = 16.79 on 1 df, p = 4.17e-5
 *   (Kleinbaum & Klein ch. 2; R survdiff prints Chisq 16.8, p = 4.17e-05).
 * Tolerances are half a unit in the last printed digit.
 */
import { describe, expect, it } from 'vitest';
import { kaplanMeier, logRankTest } from './index.js';
import type { StratumCounts } from './index.js';

const SIX_MP: [time: number, event: 0 | 1][] = [
  [6, 1], [6, 1], [6, 1], [6, 0], [7, 1], [9, 0], [10, 1], [10, 0], [11, 0], [13, 1], [16, 1], [17, 0], [19, 0],
  [20, 0], [22, 1], [23, 1], [25, 0], [32, 0], [32, 0], [34, 0], [35, 0],
];
const PLACEBO: [number, 0 | 1][] = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23].map((t) => [t, 1]);
const GRID = Array.from({ length: 35 }, (_, i) => i + 1);

/** Weekly bins with the number at risk at the start of each bin, as an agent would return them. */
function weekly(label: string, data: [number, 0 | 1][]): StratumCounts {
  return {
    label,
    times: GRID,
    events: GRID.map((g) => data.filter(([t, e]) => t === g && e === 1).length),
    censored: GRID.map((g) => data.filter(([t, e]) => t === g && e === 0).length),
    atRisk: GRID.map((g) => data.filter(([t]) => t >= g).length),
  };
}

// time, S, Greenwood SE, log-log lower, log-log upper (6-MP group at its event times)
const PUBLISHED_6MP: [number, number, number, number, number][] = [
  [6, 0.8571, 0.0764, 0.6197, 0.9516],
  [7, 0.8067, 0.0869, 0.5631, 0.9228],
  [10, 0.7529, 0.0963, 0.5032, 0.8894],
  [13, 0.6902, 0.1068, 0.4316, 0.8491],
  [16, 0.6275, 0.1141, 0.3675, 0.8049],
  [22, 0.5378, 0.1282, 0.2678, 0.7468],
  [23, 0.4482, 0.1346, 0.1881, 0.6801],
];
const TOL4 = 0.00005;

const sixMp = kaplanMeier(weekly('6-MP', SIX_MP));
const placebo = kaplanMeier(weekly('placebo', PLACEBO));
const at = (curve: typeof sixMp, t: number): number => curve.times.indexOf(t);

describe(`Kaplan–Meier on the Freireich 6-MP data (tolerance ${TOL4})`, () => {
  it.each(PUBLISHED_6MP)('t = %d: S = %d, SE = %d, band [%d, %d]', (t, s, se, lo, hi) => {
    const i = at(sixMp, t);
    expect(Math.abs(sixMp.survival[i]! - s)).toBeLessThanOrEqual(TOL4);
    expect(Math.abs(sixMp.stdErr[i]! - se)).toBeLessThanOrEqual(TOL4);
    expect(Math.abs(sixMp.lower[i]! - lo)).toBeLessThanOrEqual(TOL4);
    expect(Math.abs(sixMp.upper[i]! - hi)).toBeLessThanOrEqual(TOL4);
  });
  it('placebo at t = 1: S = 0.9048, SE = 0.0641, lower band 0.6700', () => {
    const i = at(placebo, 1);
    expect(Math.abs(placebo.survival[i]! - 0.9048)).toBeLessThanOrEqual(TOL4);
    expect(Math.abs(placebo.stdErr[i]! - 0.0641)).toBeLessThanOrEqual(TOL4);
    expect(Math.abs(placebo.lower[i]! - 0.67)).toBeLessThanOrEqual(TOL4);
  });
  it('median remission: 23 weeks (6-MP) and 8 weeks (placebo); the intervals contain them', () => {
    expect(sixMp.median.estimate).toBe(23);
    expect(placebo.median.estimate).toBe(8);
    expect(sixMp.median.lower).toBeLessThanOrEqual(23);
    expect(sixMp.median.upper).toBeNull(); // the 6-MP upper band never falls to 0.5 within follow-up
    expect(placebo.median.lower).toBeLessThanOrEqual(8);
    expect(placebo.median.upper).toBeGreaterThanOrEqual(8);
  });
  it('negative control: a wrong variance Ŝ²Σd/n² (binomial-style) misses the published SEs by more than the tolerance', () => {
    let sum = 0;
    const wrong: number[] = [];
    sixMp.times.forEach((_, i) => {
      const n = sixMp.atRisk[i]!;
      const d = sixMp.events[i]!;
      if (d > 0) sum += d / (n * n);
      wrong.push(sixMp.survival[i]! * Math.sqrt(sum));
    });
    const misses = PUBLISHED_6MP.filter(([t, , se]) => Math.abs(wrong[at(sixMp, t)]! - se) > TOL4);
    expect(misses.length).toBe(PUBLISHED_6MP.length);
  });
  it('negative control: plain (untransformed) Greenwood bands miss the published log-log bands', () => {
    const i = at(sixMp, 23);
    const plainLower = sixMp.survival[i]! - 1.959964 * sixMp.stdErr[i]!;
    expect(Math.abs(plainLower - 0.1881)).toBeGreaterThan(TOL4);
  });
});

describe('log-rank test, 6-MP vs placebo', () => {
  const r = logRankTest([weekly('6-MP', SIX_MP), weekly('placebo', PLACEBO)]);
  it('O = 9 / 21, E = 19.25 / 10.75 (± 0.005), Var = 6.257 (± 0.0005)', () => {
    expect(r.observed).toEqual([9, 21]);
    expect(Math.abs(r.expected[0]! - 19.25)).toBeLessThanOrEqual(0.005);
    expect(Math.abs(r.expected[1]! - 10.75)).toBeLessThanOrEqual(0.005);
    expect(Math.abs(r.covariance[0]![0]! - 6.257)).toBeLessThanOrEqual(0.0005);
  });
  it('χ² = 16.79 (± 0.005) on 1 df, p = 4.17e-5 (± 0.005e-5)', () => {
    expect(Math.abs(r.statistic! - 16.79)).toBeLessThanOrEqual(0.005);
    expect(r.df).toBe(1);
    expect(Math.abs(r.pValue! - 4.17e-5)).toBeLessThanOrEqual(0.005e-5);
    expect(r.labels).toEqual(['6-MP', 'placebo']);
  });
  it('negative control: dropping the tie correction (n − d)/(n − 1) from the variance misses 16.79', () => {
    const a = weekly('6-MP', SIX_MP);
    const b = weekly('placebo', PLACEBO);
    let o = 0;
    let e = 0;
    let v = 0;
    GRID.forEach((_, i) => {
      const n1 = a.atRisk![i]!;
      const n = n1 + b.atRisk![i]!;
      const d = a.events[i]! + b.events[i]!;
      if (n === 0 || d === 0) return;
      o += a.events[i]!;
      e += (n1 * d) / n;
      v += (n1 / n) * (1 - n1 / n) * d; // no (n − d)/(n − 1)
    });
    expect(Math.abs((o - e) ** 2 / v - 16.79)).toBeGreaterThan(0.005);
  });
});
