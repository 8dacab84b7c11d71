import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { kaplanMeier } from './index.js';

describe('kaplanMeier: structure and edge cases', () => {
  it('is 1 with a point band before the first event, and 0 with a zero band after everyone fails', () => {
    const c = kaplanMeier({ times: [1, 2, 3], events: [0, 1, 1], censored: [0, 0, 0], initialAtRisk: 2 });
    expect(c.survival).toEqual([1, 0.5, 0]);
    expect(c.lower[0]).toBe(1);
    expect(c.upper[0]).toBe(1);
    expect(c.lower[2]).toBe(0);
    expect(c.variance[2]).toBe(0);
    expect(c.bandTransform).toBe('log-log');
    expect(c.median.estimate).toBe(2);
  });
  it('a wider confidence level gives wider bands', () => {
    const s = { times: [1, 2, 3, 4], events: [2, 1, 3, 1], censored: [1, 1, 0, 2], initialAtRisk: 20 };
    const c95 = kaplanMeier(s);
    const c99 = kaplanMeier(s, { confLevel: 0.99 });
    c95.times.forEach((_, i) => {
      expect(c99.lower[i]!).toBeLessThan(c95.lower[i]!);
      expect(c99.upper[i]!).toBeGreaterThan(c95.upper[i]!);
    });
  });
  it('median is null when the curve never reaches 0.5', () => {
    const c = kaplanMeier({ times: [1, 2], events: [1, 1], censored: [0, 0], initialAtRisk: 100 });
    expect(c.median).toMatchObject({ estimate: null, lower: null, upper: null });
  });
  it('noisy counts still give a valid curve: in [0, 1], non-increasing, bands around it, post-processing stated', () => {
    const noisyCount = fc.double({ min: -3, max: 40, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(noisyCount, noisyCount), { minLength: 1, maxLength: 25 }), (bins) => {
        const c = kaplanMeier({ times: bins.map((_, i) => i + 1), events: bins.map((b) => b[0] / 4), atRisk: bins.map((b) => b[1]) });
        c.survival.forEach((s, i) => {
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThanOrEqual(1);
          if (i > 0) expect(s).toBeLessThanOrEqual(c.survival[i - 1]!);
          expect(c.lower[i]!).toBeLessThanOrEqual(s + 1e-15);
          expect(c.upper[i]!).toBeGreaterThanOrEqual(s - 1e-15);
          expect(c.lower[i]!).toBeGreaterThanOrEqual(0);
          expect(c.upper[i]!).toBeLessThanOrEqual(1);
          expect(c.variance[i]!).toBeGreaterThanOrEqual(0); // never NaN
        });
        for (let i = 1; i < c.atRisk.length; i++) expect(c.atRisk[i]!).toBeLessThanOrEqual(c.atRisk[i - 1]!);
        if (bins.some((b) => b[0] < 0 || b[1] < 0)) expect(c.notes.some((n) => /clamped to 0/.test(n))).toBe(true);
      }),
      { numRuns: 200, seed: 9 },
    );
  });
  it('rejects a bad confLevel naming it', () => {
    const s = { times: [1], events: [0], atRisk: [1] };
    expect(() => kaplanMeier(s, { confLevel: 1 })).toThrow(/options.confLevel/);
    expect(() => kaplanMeier(s, { confLevel: 0 })).toThrow(RangeError);
    expect(() => kaplanMeier({ times: [1], events: [0] })).toThrow(/stratum: give exactly one/);
  });
});
