/**
 * The chunked Cox statistics (accumulator → finish) against the one-shot coxLocalStats: for random persons and any
 * split into chunks, every Float64 entry must be the same bits (Object.is), since the PostgreSQL agent streams its
 * persons per round and the DuckDB agent sums them in one go, and the two are compared bit for bit. Controls: the
 * comparison detects a one-ulp change, and the persons in another order change some bits.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng, type SeededRng } from '../testing/seeded-rng.js';
import { addCoxPersons, coxLocalStats, createCoxStatsAccumulator, finishCoxStats, type CoxLayout, type CoxStats } from './cox-stats.js';

interface Persons {
  time: Int32Array;
  event: Uint8Array;
  x: Float64Array;
  stratum: Uint8Array;
}

const unit = (rng: SeededRng): number => rng.nextUint32() / 2 ** 32;

function randomPersons(rng: SeededRng, n: number, p: number, strata: number, maxTime: number): Persons {
  const x = new Float64Array(n * p);
  for (let i = 0; i < x.length; i++) x[i] = i % p === 0 ? 18 + 72 * unit(rng) : rng.nextUint32() % 2;
  return {
    time: Int32Array.from({ length: n }, () => rng.nextUint32() % (maxTime + 1)),
    event: Uint8Array.from({ length: n }, () => (unit(rng) < 0.3 ? 1 : 0)),
    x,
    stratum: Uint8Array.from({ length: n }, () => rng.nextUint32() % strata),
  };
}

function slice(d: Persons, p: number, from: number, to: number): Persons {
  return { time: d.time.subarray(from, to), event: d.event.subarray(from, to), x: d.x.subarray(from * p, to * p), stratum: d.stratum.subarray(from, to) };
}

/** The first entry (block and index) whose bits differ, or null. */
function firstDifference(a: CoxStats, b: CoxStats): string | null {
  for (const k of ['atRisk', 'events', 's0', 's1', 's2', 'eventX'] as const) {
    if (a[k].length !== b[k].length) return `${k}: length`;
    for (let i = 0; i < a[k].length; i++) if (!Object.is(a[k][i], b[k][i])) return `${k}[${i}]`;
  }
  return null;
}

function chunked(d: Persons, beta: number[], layout: CoxLayout, cuts: number[]): CoxStats {
  const acc = createCoxStatsAccumulator(beta, layout);
  let from = 0;
  for (const to of [...cuts, d.time.length]) {
    addCoxPersons(acc, slice(d, layout.p, from, to));
    from = to;
  }
  expect(acc.persons).toBe(d.time.length);
  return finishCoxStats(acc);
}

describe('Cox statistics accumulated chunk by chunk', () => {
  const p = 4;
  const layout: CoxLayout = { times: [30, 60, 90, 120, 200, 365], p, strata: 3, center: [54, 0.5, 0.5, 0.5] };
  const beta = [0.013, -0.4, 0.25, 0.7];

  it('equal the one-shot statistics bit for bit, for random persons and random chunk splits (including empty chunks)', () => {
    const rng = createSeededRng('cox-accumulator');
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + (rng.nextUint32() % 3000);
      const d = randomPersons(rng, n, p, 3, 400);
      const once = coxLocalStats(d, beta, layout);
      const cuts = Array.from({ length: rng.nextUint32() % 12 }, () => rng.nextUint32() % (n + 1)).sort((a, b) => a - b);
      expect(firstDifference(chunked(d, beta, layout, cuts), once), `trial ${trial}, cuts ${cuts.join(',')}`).toBeNull();
      // One person per chunk: the finest split.
      if (trial < 3) expect(firstDifference(chunked(d, beta, layout, Array.from({ length: n - 1 }, (_, i) => i + 1)), once)).toBeNull();
      expect(once.s0.some((v) => v !== 0 && !Number.isInteger(v))).toBe(true);
    }
  });

  it('negative controls: the comparison sees a one-ulp change, and the same persons in another order change some bits', () => {
    const rng = createSeededRng(7);
    const n = 5000;
    const d = randomPersons(rng, n, p, 3, 400);
    const once = coxLocalStats(d, beta, layout);
    const bumped = coxLocalStats(d, beta, layout);
    bumped.s2[5] = bumped.s2[5]! * (1 + Number.EPSILON);
    expect(firstDifference(bumped, once)).toBe('s2[5]');
    const order = Array.from({ length: n }, (_, i) => n - 1 - i);
    const reversed: Persons = {
      time: Int32Array.from(order, (i) => d.time[i]!),
      event: Uint8Array.from(order, (i) => d.event[i]!),
      x: Float64Array.from({ length: n * p }, (_, k) => d.x[order[Math.floor(k / p)]! * p + (k % p)]!),
      stratum: Uint8Array.from(order, (i) => d.stratum[i]!),
    };
    const other = coxLocalStats(reversed, beta, layout);
    expect(firstDifference(other, once)).not.toBeNull();
    // Not a different answer, only different rounding: the same counts, and the sums agree to 1e-12 relative.
    expect(Array.from(other.atRisk)).toEqual(Array.from(once.atRisk));
    other.s0.forEach((v, i) => expect(Math.abs(v - once.s0[i]!)).toBeLessThanOrEqual(1e-12 * Math.abs(once.s0[i]!)));
  });

  it('refuses to be used after it is finished, and checks each chunk as the one-shot function does', () => {
    const acc = createCoxStatsAccumulator(beta, layout);
    expect(() => addCoxPersons(acc, { time: [10], event: [2], x: [50, 0, 1, 0], stratum: [0] })).toThrow(/persons.event\[0\] must be 0 or 1/);
    expect(() => addCoxPersons(acc, { time: [10, 20], event: [1], x: [50, 0, 1, 0], stratum: [0] })).toThrow(/persons.event must have 2 entries/);
    expect(() => createCoxStatsAccumulator([1, 2], layout)).toThrow(/beta must be 4 finite numbers/);
    addCoxPersons(acc, { time: [10], event: [1], x: [50, 0, 1, 0], stratum: [0] });
    const out = finishCoxStats(acc);
    expect(out.events[0]).toBe(1);
    expect(() => finishCoxStats(acc)).toThrow(/already finished/);
    expect(() => addCoxPersons(acc, { time: [10], event: [1], x: [50, 0, 1, 0], stratum: [0] })).toThrow(/already finished/);
  });
});
