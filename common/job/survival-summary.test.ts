import { describe, expect, it } from 'vitest';
import { summariseCells, type ReleasedCell } from './cell-summary.js';
import { survivalTimes } from './cohort-jobs.js';
import type { CellJob } from './spec.js';

/** A small product-limit estimator over bin indexes, written apart from algorithms/survival. */
function referenceKm(persons: readonly { bin: number; event: boolean }[], bins: number): number[] {
  const out: number[] = [];
  let s = 1;
  for (let i = 0; i < bins; i++) {
    const atRisk = persons.filter((p) => p.bin >= i).length;
    const d = persons.filter((p) => p.bin === i && p.event).length;
    if (atRisk > 0) s *= 1 - d / atRisk;
    out.push(s);
  }
  return out;
}

const K = 10;
const job = { kind: 'survival', target: {}, outcome: { domain: 'condition', conceptIds: [1] }, timeGrid: { binDays: 30, maxDays: 360 }, strata: 'none', privacy: { mode: 'none' } } as unknown as CellJob;
const times = survivalTimes(30, 360);

/** Deterministic synthetic follow-up: many events early, few persons late, so late cells fall below k. */
function persons(): { bin: number; event: boolean }[] {
  const out: { bin: number; event: boolean }[] = [];
  const perBin = [0, 40, 30, 25, 20, 14, 12, 6, 3, 2, 1, 1, 1];
  perBin.forEach((n, bin) => {
    for (let j = 0; j < n; j++) out.push({ bin, event: j % 3 !== 2 });
  });
  return out;
}

/** Cells as an exact-mode agent releases them: counts of 1..k−1 persons are withheld (null). */
function cells(ps: readonly { bin: number; event: boolean }[]): Map<string, ReleasedCell> {
  const m = new Map<string, ReleasedCell>();
  const put = (name: string, n: number): void => void m.set(name, { value: n > 0 && n < K ? null : n, std: 0 });
  put('n:all', ps.length);
  times.forEach((_, i) => {
    put(`e:all:${i}`, ps.filter((p) => p.bin === i && p.event).length);
    put(`c:all:${i}`, ps.filter((p) => p.bin === i && !p.event).length);
  });
  return m;
}

describe('exact-mode Kaplan–Meier never reads a withheld cell as zero (issue 14 item 2)', () => {
  const ps = persons();
  const released = cells(ps);
  const firstWithheld = times.findIndex((_, i) => released.get(`e:all:${i}`)!.value === null || released.get(`c:all:${i}`)!.value === null);

  it('the synthetic data has a withheld cell part-way (the case under test)', () => {
    expect(firstWithheld).toBeGreaterThan(1);
    expect(firstWithheld).toBeLessThan(times.length);
  });

  it('the curve equals the pooled product-limit estimate where released, and stops before the first withheld cell', () => {
    const out = summariseCells(job, released, [], undefined);
    const curve = (out.summary.curves as { times: number[]; survival: number[]; releasedUpTo: number | null; withheldFrom: number | null }[])[0]!;
    const ref = referenceKm(ps, times.length);
    // No S(t) is computed from a bin whose counts were withheld, nor after it.
    expect(curve.times).toEqual(times.slice(0, firstWithheld));
    curve.survival.forEach((s, i) => expect(s).toBeCloseTo(ref[i]!, 12));
    expect(curve.releasedUpTo).toBe(times[firstWithheld - 1]);
    expect(curve.withheldFrom).toBe(times[firstWithheld]);
    expect(out.notes.join('\n')).toMatch(new RegExp(`curve released up to t = ${times[firstWithheld - 1]} days only`));
  });

  it('a stratum whose person count is withheld has no curve at all', () => {
    const few = ps.filter((p) => p.bin >= 9);
    const out = summariseCells(job, cells(few), [], undefined);
    expect(out.summary.curves).toEqual([]);
    expect(out.notes.join('\n')).toMatch(/persons withheld by disclosure control/);
  });
});
