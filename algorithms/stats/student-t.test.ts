import { describe, expect, it } from 'vitest';
import { regularizedBeta, regularizedBetaUpper } from './beta.js';
import { normalQuantile } from './normal.js';
import { studentTCdf, studentTQuantile, studentTSf, studentTTwoSidedP } from './student-t.js';

/**
 * References that do not come from this code: closed forms of the t CDF for ν = 1 (Cauchy), 2 and 4, the beta
 * CDF for a = 1 or b = 1, and published t table quantiles (e.g. Abramowitz & Stegun Table 26.10; R's qt()).
 */
const cdf1 = (t: number): number => 0.5 + Math.atan(t) / Math.PI;
const cdf2 = (t: number): number => 0.5 + t / (2 * Math.sqrt(2 + t * t));
const cdf4 = (t: number): number => {
  const u = t / Math.sqrt(1 + (t * t) / 4);
  return 0.5 + (3 / 8) * u * (1 - (t * t) / (12 * (1 + (t * t) / 4)));
};

describe('regularized incomplete beta', () => {
  it('matches I_x(a, 1) = x^a and I_x(1, b) = 1 − (1 − x)^b to 1e-13', () => {
    for (const x of [0.001, 0.1, 0.37, 0.5, 0.81, 0.999]) {
      for (const a of [0.5, 1, 2.5, 7, 40]) {
        expect(regularizedBeta(x, a, 1)).toBeCloseTo(x ** a, 13);
        expect(regularizedBeta(x, 1, a)).toBeCloseTo(1 - (1 - x) ** a, 13);
      }
    }
  });
  it('keeps a tiny upper tail to relative accuracy (1 − (1 − x)^b computed directly)', () => {
    // 1 − I_x(1, b) = (1 − x)^b; at x = 0.9, b = 200 that is 1e-200.
    const exact = 0.1 ** 200;
    expect(Math.abs(regularizedBetaUpper(0.9, 1, 200) / exact - 1)).toBeLessThan(1e-10);
  });
  it('refuses arguments outside the domain', () => {
    expect(() => regularizedBeta(1.5, 1, 1)).toThrow(RangeError);
    expect(() => regularizedBeta(0.5, 0, 1)).toThrow(/a must be > 0/);
    expect(() => regularizedBeta(0.5, 1, -2)).toThrow(/b must be > 0/);
  });
});

describe('Student t', () => {
  it('matches the closed-form CDFs for ν = 1, 2, 4 to 1e-13', () => {
    for (const t of [-40, -6.3, -2, -0.5, 0, 0.3, 1, 2.5, 9, 100]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(cdf1(t), 13);
      expect(studentTCdf(t, 2)).toBeCloseTo(cdf2(t), 13);
      expect(studentTCdf(t, 4)).toBeCloseTo(cdf4(t), 13);
    }
  });
  it('matches published two-sided 95 % and 99 % quantiles (t tables, R qt) to 1e-8', () => {
    const table: [number, number, number][] = [
      [0.975, 1, 12.706204736174698],
      [0.975, 2, 4.302652729749464],
      [0.975, 5, 2.570581835636314],
      [0.975, 10, 2.228138851986273],
      [0.975, 30, 2.042272456301238],
      [0.995, 3, 5.840909309733349],
      [0.995, 20, 2.845339709786763],
    ];
    for (const [p, df, q] of table) expect(studentTQuantile(p, df)).toBeCloseTo(q, 8);
  });
  it('quantile inverts the CDF over a wide range (round trip to 1e-12)', () => {
    for (const df of [0.7, 1, 3, 12.5, 48, 1000, 1e6]) {
      for (const p of [1e-12, 1e-5, 0.01, 0.2, 0.5, 0.7, 0.975, 1 - 1e-9]) {
        const q = studentTQuantile(p, df);
        const back = p < 0.5 ? studentTCdf(q, df) : 1 - studentTSf(q, df);
        expect(Math.abs(back - p) / Math.min(p, 1 - p)).toBeLessThan(1e-9);
      }
    }
  });
  it('is accurate for very large ν (residual df of a 10-million-row fit): Cornish–Fisher A&S 26.7.5', () => {
    // The expansion's own error is O(ν⁻⁴), negligible here; our tolerance grows with ν (see student-t.ts).
    const z = normalQuantile(0.975);
    const cases: [number, number][] = [[1e3, 1e-11], [1e4, 1e-11], [1e6, 1e-10], [1e7, 1e-9], [1e9, 1e-7]];
    for (const [df, tol] of cases) {
      const cf = z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df) + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3);
      expect(Math.abs(studentTQuantile(0.975, df) - cf)).toBeLessThan(tol);
    }
    // Negative control: the plain normal quantile is not the t quantile at ν = 1000 within these tolerances.
    expect(Math.abs(studentTQuantile(0.975, 1e3) - z)).toBeGreaterThan(1e-4);
    expect(studentTCdf(1.96, Infinity)).toBeCloseTo(0.9750021048517795, 12);
  });
  it('two-sided p-value of the cars slope (t = 9.464 on 48 df) is R\u2019s 1.49e-12', () => {
    const p = studentTTwoSidedP(9.46399, 48);
    expect(p).toBeGreaterThan(1.485e-12);
    expect(p).toBeLessThan(1.495e-12);
  });
  it('negative control: a wrong df misses the table value', () => {
    expect(Math.abs(studentTQuantile(0.975, 11) - 2.228138851986273)).toBeGreaterThan(1e-3);
  });
  it('refuses df <= 0 and p outside [0, 1]', () => {
    expect(() => studentTCdf(1, 0)).toThrow(/df must be > 0/);
    expect(() => studentTQuantile(1.2, 3)).toThrow(/p must be in/);
    expect(studentTQuantile(0, 3)).toBe(-Infinity);
    expect(studentTQuantile(1, 3)).toBe(Infinity);
  });
});
