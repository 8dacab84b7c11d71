import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normalCdf, normalQuantile, normalSf } from './index.js';

function expectRel(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

describe('normal CDF against published values (tolerance: 1e-12 relative)', () => {
  it.each([
    [1.96, 0.9750021048517795],
    [0, 0.5],
    [1, 0.8413447460685429],
    [-1, 0.15865525393145707],
    [-5, 2.866515718791939e-7],
    [-10, 7.619853024160527e-24],
  ])('Φ(%d) = %d', (x, p) => {
    expectRel(normalCdf(x), p, 1e-12);
    expectRel(normalSf(-x), p, 1e-12);
  });
});

describe('normal quantile (tolerance: 1e-14 relative on published values)', () => {
  it.each([
    [0.975, 1.959963984540054],
    [0.95, 1.6448536269514722],
    [0.999, 3.090232306167813],
    [0.025, -1.959963984540054],
    [1e-10, -6.361340902404056],
  ])('Φ⁻¹(%d) = %d', (p, x) => {
    expectRel(normalQuantile(p), x, 1e-14);
  });
  it('is continuous through ½ (the starting approximation may land on the wrong side of 0)', () => {
    expect(Math.abs(normalQuantile(0.49999999999999994))).toBeLessThan(1e-15);
    expect(Math.abs(normalQuantile(0.5000000000000001))).toBeLessThan(1e-15);
  });
  it('is exact at 0, ½ and 1', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
  });
  // Φ's relative condition number in the lower tail is about x², so a quantile correct to a few ulps
  // round-trips to within ~x²·ε: the tolerance is 1e-15·(4 + x²) (≈ 1.4e-12 at p = 1e-300).
  it('round-trips Φ(Φ⁻¹(p)) = p over many decades of p', () => {
    fc.assert(
      fc.property(fc.double({ min: -300, max: Math.log10(0.5), noNaN: true }), (e) => {
        const p = 10 ** e;
        const x = normalQuantile(p);
        expectRel(normalCdf(x), p, 1e-15 * (4 + x * x));
      }),
      { numRuns: 300, seed: 3 },
    );
  });
  it('negative control: the unpolished starting approximation (error up to 4.5e-4) would fail the tolerance', () => {
    const t = Math.sqrt(-2 * Math.log(0.025));
    const start = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t ** 3);
    expect(Math.abs(start - 1.959963984540054)).toBeGreaterThan(1e-14 * 1.96);
  });
  it('rejects p outside [0, 1] naming it', () => {
    expect(() => normalQuantile(1.5)).toThrow(/p must be in \[0, 1\]/);
    expect(() => normalQuantile(Number.NaN)).toThrow(RangeError);
    expect(() => normalCdf('1' as unknown as number)).toThrow(TypeError);
  });
});
