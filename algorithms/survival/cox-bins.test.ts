import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { coxBinViolation, mergeSmallBins, mergeSmallBinsByFlags } from './cox-bins.js';
import { coxLocalStats } from './cox-stats.js';

const T = [0, 30, 60, 90, 120, 150];

describe('mergeSmallBins (public rule over released counts)', () => {
  it('keeps every bin when each source has 0 or ≥ minCell leaving', () => {
    const r = mergeSmallBins(T, [[5, 0, 7, 5, 9, 5], [0, 0, 6, 10, 5, 5]], 5);
    expect(r.times).toEqual(T);
    expect(r.merged).toBe(0);
  });

  it('merges a small bin with the next one until the run reaches minCell', () => {
    const r = mergeSmallBins(T, [[2, 2, 1, 5, 6, 5]], 5);
    // 2+2+1 = 5 closes at bin 2; then 5, 6, 5 stand alone.
    expect(r.times).toEqual([60, 90, 120, 150]);
    expect(r.groupOf).toEqual([0, 0, 0, 1, 2, 3]);
  });

  it('a withheld count (null) counts as 1, the least it can be', () => {
    expect(mergeSmallBins(T, [[null, null, null, null, null, 9]], 5).times).toEqual([120, 150]);
    expect(mergeSmallBins(T, [[null, 4, 6, 6, 6, 6]], 5).times).toEqual([30, 60, 90, 120, 150]);
  });

  it('a trailing run that stays small joins the run before it', () => {
    const r = mergeSmallBins(T, [[6, 6, 6, 6, 6, 2]], 5);
    expect(r.times).toEqual([0, 30, 60, 90, 150]);
    expect(r.groupOf).toEqual([0, 1, 2, 3, 4, 4]);
  });

  it('a small trailing run skips back over empty runs to one it can join', () => {
    expect(mergeSmallBins(T, [[6, 6, 6, 0, 0, 2]], 5).times).toEqual([0, 30, 150]);
  });

  it('a bin must be safe for every source at once (agents × strata)', () => {
    expect(mergeSmallBins(T, [[9, 9, 9, 9, 9, 9], [1, 4, 5, 5, 5, 5]], 5).times).toEqual([30, 60, 90, 120, 150]);
  });

  it('negative noisy counts count as 0 (DP modes: post-processing of noisy values)', () => {
    expect(mergeSmallBins(T, [[-3, 8, 8, 8, 8, 8]], 5).times).toEqual(T);
    expect(mergeSmallBins(T, [[-3, 2, 8, 8, 8, 8]], 5).times).toEqual([0, 60, 90, 120, 150]);
  });

  it('property: for exact counts, every merged bin of every source has 0 or ≥ minCell (or holds the whole source)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 10 }), (sources, k) => {
        const r = mergeSmallBins(T, sources, k);
        for (const s of sources) {
          const sums = r.times.map(() => 0);
          s.forEach((v, i) => (sums[r.groupOf[i]!]! += v));
          const total = s.reduce((a, b) => a + b, 0);
          if (total >= k) sums.forEach((v) => expect(v === 0 || v >= k).toBe(true));
        }
        expect(r.times.at(-1)).toBe(T.at(-1));
      }),
    );
  });

  it('negative control: the property\'s check fails for the unmerged grid and for a merge that ignores the trailing run', () => {
    const source = [6, 6, 6, 0, 0, 2];
    const violates = (groupOf: readonly number[]): boolean => {
      const sums = new Map<number, number>();
      source.forEach((v, i) => sums.set(groupOf[i]!, (sums.get(groupOf[i]!) ?? 0) + v));
      return [...sums.values()].some((v) => v > 0 && v < 5);
    };
    expect(violates([0, 1, 2, 3, 4, 5])).toBe(true);
    expect(violates([0, 1, 2, 3, 4, 4])).toBe(true); // trailing run joined only to the empty run before it
    expect(violates(mergeSmallBins(T, [source], 5).groupOf)).toBe(false);
  });

  it('refuses bad arguments', () => {
    expect(() => mergeSmallBins([], [], 5)).toThrow(/times must not be empty/);
    expect(() => mergeSmallBins(T, [[1, 2]], 5)).toThrow(/sources\[0\] must have 6 entries/);
    expect(() => mergeSmallBins(T, [], 0)).toThrow(/minCell must be a positive integer/);
  });
});

describe('coxBinViolation (the agent refuses a layout that isolates fewer than minCell persons)', () => {
  const persons = { time: [1, 1, 1, 2, 3, 3, 3], event: [1, 0, 1, 1, 0, 1, 0], x: [0, 0, 0, 0, 0, 0, 0] };
  it('refuses a layout where a single person leaves, without stating the count, the stratum or the bin', () => {
    const s = coxLocalStats(persons, [0], { times: [1, 2, 3], p: 1 });
    const v = coxBinViolation(s.atRisk, s.bins, s.strata, 3);
    expect(v).toMatch(/fewer persons leave the risk set than the minimum cell size/);
    // The same message whichever bin holds the single person (red team 20: the bin named in the refusal located
    // one person's follow-up as the coordinator swept the merged grid).
    const later = coxLocalStats({ time: [1, 1, 1, 3, 3, 3, 3], event: [1, 0, 1, 1, 0, 1, 0], x: [0, 0, 0, 0, 0, 0, 0] }, [0], { times: [1, 2, 3], p: 1 });
    expect(coxBinViolation(later.atRisk, later.bins, later.strata, 2)).toBeNull();
    const single = coxLocalStats({ time: [1, 1, 1, 2, 2, 2, 3], event: [1, 0, 1, 1, 0, 1, 0], x: [0, 0, 0, 0, 0, 0, 0] }, [0], { times: [1, 2, 3], p: 1 });
    expect(coxBinViolation(single.atRisk, single.bins, single.strata, 3)).toBe(v);
    expect(v).not.toMatch(/\b1 person|bin \d|stratum \d/);
    expect(coxBinViolation([6, 3], 2, 1, 3, [{ name: 'gender=male', leaving: [0, 1] }])).not.toMatch(/bin \d|stratum \d/);
  });
  it('accepts the merged layout', () => {
    const s = coxLocalStats(persons, [0], { times: [2, 3], p: 1 });
    expect(coxBinViolation(s.atRisk, s.bins, s.strata, 3)).toBeNull();
  });
  it('checks extra level counts the same way', () => {
    expect(coxBinViolation([6, 3], 2, 1, 3, [{ name: 'gender=female', leaving: [2, 0] }])).toMatch(/gender=female/);
    expect(coxBinViolation([6, 3], 2, 1, 3, [{ name: 'gender=female', leaving: [3, 0] }])).toBeNull();
  });
});

describe('mergeSmallBinsByFlags (summed small/big flags only)', () => {
  /** Per-agent counts → summed flags, as the agents release them. */
  const flags = (agents: readonly (readonly number[])[], k: number) => ({
    small: agents[0]!.map((_, i) => agents.filter((a) => a[i]! > 0 && a[i]! < k).length),
    big: agents[0]!.map((_, i) => agents.filter((a) => a[i]! >= k).length),
  });
  it('property: every merged bin holds, at every agent and row, 0 or ≥ k persons (or all of them in one bin)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }).chain((agents) => fc.tuple(fc.constant(agents), fc.array(fc.array(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 6, maxLength: 6 }), { minLength: agents, maxLength: agents }), { minLength: 1, maxLength: 3 }))),
        fc.integer({ min: 1, max: 8 }),
        ([agents, rows], k) => {
          const r = mergeSmallBinsByFlags(T, rows.map((perAgent) => flags(perAgent, k)), agents);
          if (r.times.length === 1) return; // everything in one bin: the agents' own check decides
          for (const perAgent of rows) {
            for (const counts of perAgent) {
              const sums = r.times.map(() => 0);
              counts.forEach((v, i) => (sums[r.groupOf[i]!]! += v));
              sums.forEach((v) => expect(v === 0 || v >= k).toBe(true));
            }
          }
        },
      ),
    );
  });
  it('closes where every agent has a big cell; empty runs close at once; a small trailing run joins a big one', () => {
    const a = [0, 2, 6, 1, 0, 1];
    const b = [0, 6, 6, 6, 0, 0];
    // Bin 0 is empty (closes alone); bins 1–2 close on bin 2 (both big); the small trailing run 3–5 joins them.
    expect(mergeSmallBinsByFlags(T, [flags([a, b], 5)], 2).times).toEqual([0, 150]);
    expect(mergeSmallBinsByFlags(T, [flags([[0, 2, 6, 1, 6, 1], [0, 6, 6, 6, 7, 0]], 5)], 2).times).toEqual([0, 60, 150]);
  });
  it('negative control: summed counts (not flags) with a pooled threshold can leave one agent with a small bin', () => {
    const a = [6, 2, 6, 6, 6, 6];
    const b = [6, 9, 6, 6, 6, 6];
    const pooled = mergeSmallBins(T, [a.map((v, i) => v + b[i]!)], 5);
    expect(pooled.times).toEqual(T); // bin 1 has 11 pooled persons, so it stays — with only 2 of agent a's
    expect(mergeSmallBinsByFlags(T, [flags([a, b], 5)], 2).times).toEqual([0, 60, 90, 120, 150]);
  });
  it('refuses bad arguments', () => {
    expect(() => mergeSmallBinsByFlags(T, [{ small: [0], big: [0] }], 1)).toThrow(/rows\[0\] must have 6/);
    expect(() => mergeSmallBinsByFlags(T, [], 0)).toThrow(/agents must be a positive integer/);
  });
});
