import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { uniformUint32 } from '../rng.js';
import { clipL2, gridError, toGrid } from './fixed-point.js';
import { addToRocHistogram, aucFromRoc, cumulateFromTop, exactAuc, thresholdGrid } from './metrics.js';
import { participantCount, sampleParticipants } from './sampling.js';

/** Scores of positives shifted up: a known, non-trivial AUC. */
function data(n: number, seed: number) {
  const rng = createSeededRng(seed);
  const u = () => uniformUint32(rng) / 2 ** 32;
  const labels = Float64Array.from({ length: n }, () => (u() < 0.4 ? 1 : 0));
  const scores = Float64Array.from(labels, (l) => Math.min(1, Math.max(0, 0.35 + 0.2 * l + 0.3 * (u() - 0.5))));
  return { labels, scores };
}

function histAuc(scores: Float64Array, labels: Float64Array, bins: number): number {
  const t = thresholdGrid(bins);
  const pos = new Float64Array(t.length);
  const neg = new Float64Array(t.length);
  addToRocHistogram(scores, labels, t, pos, neg);
  cumulateFromTop(pos);
  cumulateFromTop(neg);
  const nPos = labels.reduce((a, b) => a + b, 0);
  return aucFromRoc(pos, neg, nPos, labels.length - nPos);
}

describe('AUC from a public-threshold histogram', () => {
  it('matches the exact Mann–Whitney AUC within 0.005 with 1000 thresholds; a 2-threshold histogram does not (negative control)', () => {
    const { scores, labels } = data(4000, 7);
    const exact = exactAuc(scores, labels);
    expect(exact).toBeGreaterThan(0.7);
    expect(exact).toBeLessThan(0.95);
    expect(Math.abs(histAuc(scores, labels, 1000) - exact)).toBeLessThan(0.005);
    expect(Math.abs(histAuc(scores, labels, 1) - exact)).toBeGreaterThan(0.05);
  });
  it('histograms add: two agents summed give the pooled AUC', () => {
    const a = data(500, 1);
    const b = data(700, 2);
    const t = thresholdGrid(200);
    const pos = new Float64Array(t.length);
    const neg = new Float64Array(t.length);
    addToRocHistogram(a.scores, a.labels, t, pos, neg);
    addToRocHistogram(b.scores, b.labels, t, pos, neg);
    cumulateFromTop(pos);
    cumulateFromTop(neg);
    const labels = Float64Array.from([...a.labels, ...b.labels]);
    const scores = Float64Array.from([...a.scores, ...b.scores]);
    const nPos = labels.reduce((x, y) => x + y, 0);
    expect(aucFromRoc(pos, neg, nPos, labels.length - nPos)).toBeCloseTo(histAuc(scores, labels, 200), 12);
  });
  it('perfect separation gives 1, reversed 0, one class empty NaN', () => {
    const labels = Float64Array.from([0, 0, 1, 1]);
    expect(exactAuc(Float64Array.from([0.1, 0.2, 0.8, 0.9]), labels)).toBe(1);
    expect(exactAuc(Float64Array.from([0.9, 0.8, 0.2, 0.1]), labels)).toBe(0);
    expect(histAuc(Float64Array.from([0.1, 0.2, 0.8, 0.9]), labels, 10)).toBe(1);
    expect(exactAuc(Float64Array.from([0.1, 0.2]), Float64Array.from([1, 1]))).toBeNaN();
  });
});

describe('clipping and the fixed-point grid', () => {
  it('clips to the L2 norm and leaves short vectors alone; rounding error is at most half a grid step', () => {
    const v = Float64Array.from([3, 4]);
    expect(clipL2(v, 1)).toBe(5);
    expect(Math.hypot(v[0]!, v[1]!)).toBeCloseTo(1, 14);
    const w = Float64Array.from([0.3, 0.4]);
    clipL2(w, 1);
    expect(Array.from(w)).toEqual([0.3, 0.4]);
    expect(() => clipL2(w, 0)).toThrow(/clip/);
    const g = toGrid([0.123456789, -0.987654321], -10);
    expect(g.every((x) => Number.isInteger(x * 1024))).toBe(true);
    expect(Math.abs(g[0]! - 0.123456789)).toBeLessThanOrEqual(gridError(-10));
  });
});

describe('partial participation', () => {
  it('draws distinct agents of the pool, sorted; every agent is drawn about fraction of the time (χ²-free check: 4σ)', () => {
    const pool = ['a', 'b', 'c', 'd', 'e'];
    const rng = createSeededRng(3);
    const counts = new Map(pool.map((p) => [p, 0]));
    const draws = 5000;
    for (let i = 0; i < draws; i++) {
      const s = sampleParticipants(pool, 2, rng);
      expect(new Set(s).size).toBe(2);
      expect([...s].sort()).toEqual(s);
      for (const a of s) counts.set(a, counts.get(a)! + 1);
    }
    const p = 2 / 5;
    const sd = Math.sqrt(draws * p * (1 - p));
    for (const c of counts.values()) expect(Math.abs(c - draws * p)).toBeLessThan(4 * sd);
    expect(participantCount(4, 0.5, 1)).toBe(2);
    expect(participantCount(4, 0.1, 3)).toBe(3);
    expect(participantCount(3, 1, 1)).toBe(3);
    expect(() => sampleParticipants(pool, 6, rng)).toThrow(/count/);
  });
});
