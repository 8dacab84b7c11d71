import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nonIncreasingProjection, prepareStratum, sumStratumCounts } from './index.js';

describe('nonIncreasingProjection (pool adjacent violators)', () => {
  it('leaves a non-increasing sequence exactly as it is', () => {
    expect(nonIncreasingProjection([10, 10, 7, 3, 0])).toEqual([10, 10, 7, 3, 0]);
  });
  it('pools violators to their mean', () => {
    expect(nonIncreasingProjection([3, 5, 1])).toEqual([4, 4, 1]);
    expect(nonIncreasingProjection([1, 2, 3])).toEqual([2, 2, 2]);
    expect(nonIncreasingProjection([10, 4, 6, 8, 1])).toEqual([10, 6, 6, 6, 1]);
  });
  it('is non-increasing, keeps the total, and is the closest such sequence to its input', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -50, max: 200, noNaN: true }), { minLength: 1, maxLength: 30 }), (xs) => {
        const y = nonIncreasingProjection(xs);
        for (let i = 1; i < y.length; i++) expect(y[i]!).toBeLessThanOrEqual(y[i - 1]! + 1e-9);
        const sum = (a: number[]): number => a.reduce((s, v) => s + v, 0);
        expect(Math.abs(sum(y) - sum(xs))).toBeLessThanOrEqual(1e-9 * Math.max(1, sum(xs.map(Math.abs))));
        // Any other non-increasing candidate (here: the running minimum) is no closer in least squares.
        const runMin = xs.map((_, i) => Math.min(...xs.slice(0, i + 1)));
        const dist = (a: number[]): number => a.reduce((s, v, i) => s + (v - xs[i]!) ** 2, 0);
        expect(dist(y)).toBeLessThanOrEqual(dist(runMin) + 1e-9);
      }),
      { numRuns: 200, seed: 5 },
    );
  });
});

describe('prepareStratum post-processing of noisy counts', () => {
  it('leaves exact counts unchanged and adds no notes', () => {
    const p = prepareStratum('s', { times: [1, 2, 3], events: [2, 1, 0], censored: [1, 0, 2], atRisk: [6, 3, 2] });
    expect(p.atRisk).toEqual([6, 3, 2]);
    expect(p.events).toEqual([2, 1, 0]);
    expect(p.notes).toEqual([]);
  });
  it('clamps negatives, makes at-risk non-increasing, caps events at risk, and says so', () => {
    const p = prepareStratum('s', { times: [1, 2, 3, 4], events: [-1.5, 2.2, 9, 0.4], atRisk: [10, 12, 6, -2] });
    expect(p.events[0]).toBe(0);
    expect(p.atRisk).toEqual([11, 11, 6, 0]);
    expect(p.events[2]).toBe(6);
    expect(p.events[3]).toBe(0);
    const text = p.notes.join('\n');
    expect(text).toMatch(/2 negative count\(s\) clamped to 0/);
    expect(text).toMatch(/non-increasing/);
    expect(text).toMatch(/events capped/);
    expect(text).toMatch(/censored counts derived/);
  });
  it('per-bin-clamp: derives at-risk from initialAtRisk, flooring at 0', () => {
    const p = prepareStratum('s', { times: [1, 2, 3], events: [3, 3, 3], censored: [1, 1, 1], initialAtRisk: 6 }, { noisyEndpoints: 'per-bin-clamp' });
    expect(p.atRisk).toEqual([6, 2, 0]);
    expect(p.events).toEqual([3, 2, 0]);
    expect(p.notes.join('\n')).toMatch(/floored at 0/);
  });
  it('cumulative: projects cumulative counts, so totals never exceed the initial at-risk and events ≤ at-risk', () => {
    const p = prepareStratum('s', { times: [1, 2, 3], events: [3, 3, 3], censored: [1, 1, 1], initialAtRisk: 6 });
    expect(p.atRisk).toEqual([6, 3, 0]);
    expect(p.events).toEqual([3, 3, 0]);
    expect(p.censored).toEqual([0, 0, 0]);
  });
  it('cumulative: a negative noisy count is offset against its neighbours, not clamped to 0', () => {
    // Cumulative events 2, 1, 4 → projected 1.5, 1.5, 4: the −1 cancels half of the bin before it.
    const p = prepareStratum('s', { times: [1, 2, 3], events: [2, -1, 3], censored: [0, 0, 0], initialAtRisk: 10 });
    expect(p.events).toEqual([1.5, 0, 2.5]);
    expect(p.events.reduce((a, b) => a + b, 0)).toBe(4);
  });
  it('cumulative: exact counts are a fixed point', () => {
    const p = prepareStratum('s', { times: [1, 2, 3], events: [2, 0, 3], censored: [1, 1, 0], initialAtRisk: 10 });
    expect(p.events).toEqual([2, 0, 3]);
    expect(p.censored).toEqual([1, 1, 0]);
    expect(p.atRisk).toEqual([10, 7, 6]);
    expect(p.notes).toEqual([]);
  });
  it('can skip the monotone projection when asked', () => {
    const p = prepareStratum('s', { times: [1, 2], events: [0, 0], atRisk: [3, 5] }, { enforceMonotoneAtRisk: false });
    expect(p.atRisk).toEqual([3, 5]);
  });
  it('rejects malformed input naming the field', () => {
    expect(() => prepareStratum('s', { times: [1, 1], events: [0, 0], atRisk: [1, 1] })).toThrow(/s.times must be strictly increasing/);
    expect(() => prepareStratum('s', { times: [1, 2], events: [0], atRisk: [1, 1] })).toThrow(/s.events must have 2 entries/);
    expect(() => prepareStratum('s', { times: [1], events: [0] })).toThrow(/exactly one of atRisk and initialAtRisk/);
    expect(() => prepareStratum('s', { times: [1], events: [0], atRisk: [1], initialAtRisk: 1 })).toThrow(TypeError);
    expect(() => prepareStratum('s', { times: [1], events: [0], initialAtRisk: 1 })).toThrow(/s.censored is required/);
    expect(() => prepareStratum('s', { times: [1], events: [Number.NaN], atRisk: [1] })).toThrow(/s.events\[0\] must be finite/);
    expect(() => prepareStratum('s', { times: [], events: [], atRisk: [] })).toThrow(RangeError);
    expect(() => prepareStratum('s', { times: [1], events: ['1' as unknown as number], atRisk: [1] })).toThrow(TypeError);
    expect(() => prepareStratum('s', { times: [1], events: [0], atRisk: [1] }, { enforceMonotoneAtRisk: 1 as unknown as boolean })).toThrow(/options.enforceMonotoneAtRisk/);
  });
});

describe('sumStratumCounts', () => {
  it('adds bin by bin and mixes initialAtRisk with atRisk parts', () => {
    const s = sumStratumCounts([
      { label: 'a', times: [1, 2], events: [1, 0], censored: [0, 1], initialAtRisk: 3 },
      { times: [1, 2], events: [0, 2], censored: [1, 0], atRisk: [4, 3] },
    ]);
    expect(s).toEqual({ label: 'a', times: [1, 2], events: [1, 2], censored: [1, 1], atRisk: [7, 5] });
  });
  it('rejects parts on different grids, naming the part', () => {
    expect(() =>
      sumStratumCounts([
        { times: [1, 2], events: [0, 0], atRisk: [1, 1] },
        { times: [1, 3], events: [0, 0], atRisk: [1, 1] },
      ]),
    ).toThrow(/parts\[1\].times differs/);
    expect(() => sumStratumCounts([])).toThrow(/parts must not be empty/);
  });
});
