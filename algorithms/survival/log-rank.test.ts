import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { logRankTest } from './index.js';
import type { StratumCounts } from './index.js';

const TIMES = [1, 2, 3, 4, 5, 6];
const countsArb: fc.Arbitrary<StratumCounts> = fc
  .record({
    n: fc.integer({ min: 5, max: 40 }),
    hazard: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 6, maxLength: 6 }),
    censor: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }),
  })
  .map(({ n, hazard, censor }) => {
    let left = n;
    const events: number[] = [];
    const censored: number[] = [];
    for (let i = 0; i < TIMES.length; i++) {
      const d = Math.min(hazard[i]!, left);
      const c = Math.min(censor[i]!, left - d);
      events.push(d);
      censored.push(c);
      left -= d + c;
    }
    return { times: TIMES, events, censored, initialAtRisk: n };
  });

describe('logRankTest with k strata', () => {
  it('with 3 strata, the statistic does not depend on stratum order (which stratum is left out)', () => {
    fc.assert(
      fc.property(fc.tuple(countsArb, countsArb, countsArb), ([a, b, c]) => {
        const r1 = logRankTest([a, b, c]);
        const r2 = logRankTest([c, a, b]);
        expect(r1.df).toBe(2);
        if (r1.statistic === null) {
          expect(r2.statistic).toBeNull();
          return;
        }
        expect(Math.abs(r1.statistic - r2.statistic!)).toBeLessThanOrEqual(1e-8 * Math.max(1, r1.statistic));
        expect(Math.abs(r1.observed.reduce((s, v) => s + v, 0) - r1.expected.reduce((s, v) => s + v, 0))).toBeLessThan(1e-9);
      }),
      { numRuns: 150, seed: 13 },
    );
  });
  it('identical strata give a statistic of 0 and p = 1', () => {
    const s = { times: [1, 2, 3], events: [2, 1, 1], censored: [0, 1, 0], initialAtRisk: 10 };
    const r = logRankTest([s, s, s]);
    expect(r.statistic).toBeCloseTo(0, 12);
    expect(r.pValue).toBeCloseTo(1, 12);
  });
  it('drops a stratum nobody was at risk in and says so', () => {
    const a = { times: [1, 2], events: [3, 1], censored: [0, 0], initialAtRisk: 10 };
    const b = { times: [1, 2], events: [0, 2], censored: [1, 0], initialAtRisk: 9 };
    const empty = { times: [1, 2], events: [0, 0], censored: [0, 0], initialAtRisk: 0 };
    const r3 = logRankTest([a, empty, b]);
    const r2 = logRankTest([a, b]);
    expect(r3.droppedStrata).toEqual([1]);
    expect(r3.df).toBe(1);
    expect(r3.statistic!).toBeCloseTo(r2.statistic!, 12);
    expect(r3.notes.some((n) => /dropped: 1/.test(n))).toBe(true);
  });
  it('returns a null statistic without any events', () => {
    const s = { times: [1, 2], events: [0, 0], censored: [1, 1], initialAtRisk: 5 };
    const r = logRankTest([s, s]);
    expect(r.statistic).toBeNull();
    expect(r.pValue).toBeNull();
  });
  it('rejects bad arguments naming them', () => {
    const s = { times: [1, 2], events: [0, 1], censored: [0, 0], initialAtRisk: 5 };
    expect(() => logRankTest([s])).toThrow(/strata must have at least 2/);
    expect(() => logRankTest([s, { ...s, times: [1, 3] }])).toThrow(/strata\[1\].times differs/);
    expect(() => logRankTest([s, { ...s, events: [0, -Infinity] }])).toThrow(/strata\[1\].events\[1\]/);
    expect(() => logRankTest('x' as unknown as StratumCounts[])).toThrow(TypeError);
  });
});
