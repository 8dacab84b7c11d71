import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lnGamma, regularizedGammaP, regularizedGammaQ } from './index.js';
import { chiSquareCdf, chiSquareSf } from './index.js';

/** |actual − expected| ≤ rel·|expected| (relative tolerance, stated per test). */
function expectRel(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

/** ln((n−1)!) by summing logs: independent of the Stirling series. */
function lnFactorialMinusOne(n: number): number {
  let s = 0;
  for (let k = 2; k < n; k++) s += Math.log(k);
  return s;
}

/** Q(n, x) for integer n: the Poisson probability P(N < n) with mean x, summed term by term. */
function poissonBelow(n: number, x: number): number {
  let term = Math.exp(-x);
  let s = term;
  for (let k = 1; k < n; k++) {
    term *= x / k;
    s += term;
  }
  return s;
}

describe('lnGamma (tolerance: 1e-13 absolute)', () => {
  it('matches known values', () => {
    expect(Math.abs(lnGamma(0.5) - 0.5 * Math.log(Math.PI))).toBeLessThan(1e-13);
    expect(Math.abs(lnGamma(1.5) - Math.log(Math.sqrt(Math.PI) / 2))).toBeLessThan(1e-13);
    expect(Math.abs(lnGamma(1))).toBeLessThan(1e-13);
    expect(Math.abs(lnGamma(2))).toBeLessThan(1e-13);
    for (const n of [3, 7, 10, 20, 50, 171]) expectRel(lnGamma(n), lnFactorialMinusOne(n), 1e-14);
    // Γ(x) ~ 1/x − γ near 0.
    expect(Math.abs(lnGamma(1e-8) - (-Math.log(1e-8) - 0.5772156649015329e-8))).toBeLessThan(1e-13);
  });
  it('satisfies the recurrence lnΓ(x+1) = lnΓ(x) + ln x', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (x) => {
        expect(Math.abs(lnGamma(x + 1) - lnGamma(x) - Math.log(x))).toBeLessThan(1e-12 * Math.max(1, Math.abs(lnGamma(x + 1))));
      }),
      { numRuns: 200, seed: 42 },
    );
  });
  it('rejects bad x naming it', () => {
    expect(() => lnGamma(0)).toThrow(RangeError);
    expect(() => lnGamma(-1)).toThrow(/x must be > 0/);
    expect(() => lnGamma(Number.NaN)).toThrow(RangeError);
    expect(() => lnGamma('2' as unknown as number)).toThrow(TypeError);
  });
});

describe('regularised incomplete gamma (tolerance: 1e-13 relative)', () => {
  it('P(1, x) = 1 − e^−x and Q(1, x) = e^−x', () => {
    for (const x of [1e-6, 0.3, 1, 2.5, 10, 50, 300]) {
      expectRel(regularizedGammaQ(1, x), Math.exp(-x), 1e-13);
      expectRel(regularizedGammaP(1, x), -Math.expm1(-x), 1e-13);
    }
  });
  it('Q(n, x) equals the Poisson sum for integer n, both branches and the far tail', () => {
    for (const [n, x] of [[5, 3], [5, 8], [3, 20], [30, 10], [10, 100], [50, 49]] as const) {
      expectRel(regularizedGammaQ(n, x), poissonBelow(n, x), 1e-12);
    }
  });
  it('P + Q = 1 and P is increasing in x', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 500, noNaN: true }), fc.double({ min: 0, max: 800, noNaN: true }), (a, x) => {
        const p = regularizedGammaP(a, x);
        const q = regularizedGammaQ(a, x);
        expect(Math.abs(p + q - 1)).toBeLessThan(1e-12);
        expect(regularizedGammaP(a, x * 1.01 + 1e-9)).toBeGreaterThanOrEqual(p);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
  it('handles the edges and rejects bad arguments naming them', () => {
    expect(regularizedGammaP(2, 0)).toBe(0);
    expect(regularizedGammaQ(2, 0)).toBe(1);
    expect(regularizedGammaQ(2, Infinity)).toBe(0);
    expect(() => regularizedGammaP(0, 1)).toThrow(/a must be > 0/);
    expect(() => regularizedGammaQ(1, -1)).toThrow(/x must be >= 0/);
    expect(() => regularizedGammaQ(1, Number.NaN)).toThrow(RangeError);
  });
});

describe('χ² distribution against published critical values (tolerance: 1e-8 relative on the tail)', () => {
  // Upper-tail critical values χ²_{ν, α} as printed in standard tables (to the digits shown).
  const table: [x: number, df: number, alpha: number][] = [
    [3.841458820694124, 1, 0.05],
    [6.634896601021214, 1, 0.01],
    [10.827566170662733, 1, 0.001],
    [5.991464547107979, 2, 0.05],
    [11.070497693516351, 5, 0.05],
    [18.307038053275146, 10, 0.05],
    [43.77297182574219, 30, 0.05],
  ];
  it.each(table)('P(χ²_%d > %d) ...', (x, df, alpha) => {
    expectRel(chiSquareSf(x, df), alpha, 1e-8);
    expectRel(chiSquareCdf(x, df), 1 - alpha, 1e-8);
  });
  it('closed forms for ν = 2 and ν = 4', () => {
    for (const x of [0.1, 1, 5, 40, 200]) {
      expectRel(chiSquareSf(x, 2), Math.exp(-x / 2), 1e-13);
      expectRel(chiSquareSf(x, 4), Math.exp(-x / 2) * (1 + x / 2), 1e-13);
    }
  });
  it('negative control: the wrong degrees of freedom misses the published value by far more than the tolerance', () => {
    expect(Math.abs(chiSquareSf(11.070497693516351, 4) - 0.05)).toBeGreaterThan(1e-8 * 0.05 * 1e4);
  });
  it('rejects a bad df naming it', () => {
    expect(() => chiSquareSf(1, 0)).toThrow(/df must be > 0/);
    expect(() => chiSquareCdf(1, Number.POSITIVE_INFINITY)).toThrow(/df/);
  });
});
