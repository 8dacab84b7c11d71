import { describe, expect, it } from 'vitest';
import { summariseCells, type ReleasedCell } from './cell-summary.js';
import { survivalTimes } from './cohort-jobs.js';
import type { CellJob } from './spec.js';
import { parseJobSpec } from './validate.js';

const contingency = (rowLevels: unknown[], colLevels: unknown[]): unknown => ({ kind: 'contingency', product: 'person', rowColumn: 'a', colColumn: 'b', rowLevels, colLevels, privacy: { mode: 'local-dp', rho: 0.1 } });
const cells = (entries: [string, number | null][]): Map<string, ReleasedCell> => new Map(entries.map(([k, v]) => [k, { value: v, std: 1 }]));

describe('a contingency job with fewer than 2 row or column levels', () => {
  it.each([
    ['rowLevels', [1], [1, 2]],
    ['colLevels', [1, 2], ['x']],
  ])('is an invalid job naming %s (refused at parsing, before any charge)', (field, rows, cols) => {
    expect(() => parseJobSpec(contingency(rows, cols))).toThrow(expect.objectContaining({ code: 'INVALID_JOB', message: expect.stringContaining(`${field}: must list at least 2 levels`) }));
  });

  it('a 2 × 2 table is accepted (control)', () => {
    expect(parseJobSpec(contingency([1, 2], [1, 2])).kind).toBe('contingency');
  });
});

describe('post-processing released cells is total', () => {
  const job2x2 = parseJobSpec(contingency([1, 2], [1, 2])) as CellJob;

  it('a degenerate table (a 1-level job from before admission checked it) gives no chi-square and a note, not an exception', () => {
    // Such a record can still exist in a coordinator's state; the summary must not crash on it.
    const legacy = { ...job2x2, rowLevels: [1] } as CellJob;
    const out = summariseCells(legacy, cells([['cell:0:0', 4], ['cell:0:1', 7]]), [], undefined);
    expect(out.summary.chiSquare).toBeUndefined();
    expect(out.notes.join(' ')).toMatch(/chi-square not computed/);
    expect(out.rows).toHaveLength(1);
  });

  it.each([
    ['all cells zero', [0, 0, 0, 0]],
    ['all cells negative (noisy)', [-3, -1, -2, -0.5]],
    ['a single non-empty row', [5, 9, -1, -2]],
  ])('a 2 × 2 table with %s yields statistic null with a note', (_name, values) => {
    const out = summariseCells(job2x2, cells(values.map((v, i) => [`cell:${Math.floor(i / 2)}:${i % 2}`, v])), [], undefined);
    const chi = out.summary.chiSquare as { statistic: number | null; notes: string[] };
    expect(chi.statistic).toBeNull();
    expect(chi.notes.join(' ')).toMatch(/no test/);
  });

  it('a suppressed cell says so instead of testing', () => {
    const out = summariseCells(job2x2, cells([['cell:0:0', null], ['cell:0:1', 1], ['cell:1:0', 2], ['cell:1:1', 3]]), [], undefined);
    expect(out.summary.chiSquare).toBeUndefined();
    expect(out.notes).toEqual(['chi-square not computed: a cell was suppressed']);
  });

  it('a well-formed table still gets its test (control)', () => {
    const out = summariseCells(job2x2, cells([['cell:0:0', 30], ['cell:0:1', 10], ['cell:1:0', 10], ['cell:1:1', 30]]), [], undefined);
    expect((out.summary.chiSquare as { statistic: number }).statistic).toBeCloseTo(20, 10); // 4 × (10²/20)
  });

  const survival = parseJobSpec({ kind: 'survival', target: { name: 'd', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' } }, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 90 }, strata: 'gender', privacy: { mode: 'local-dp', rho: 0.1 } });

  it.each<[string, (i: number) => number, () => number]>([
    ['no persons in any stratum', () => 0, () => 0],
    ['noisy negatives and events far above the at-risk count', (i: number) => (i % 2 ? -5 : 1e6), () => 3],
  ])('survival with %s yields curves or notes, never an exception', (_name, event, initial) => {
    const job = survival as CellJob;
    if (job.kind !== 'survival') throw new Error('unreachable');
    const times = survivalTimes(job.timeGrid.binDays, job.timeGrid.maxDays);
    const entries: [string, number][] = [];
    for (const s of ['male', 'female', 'other']) {
      entries.push([`n:${s}`, initial()]);
      times.forEach((_, i) => entries.push([`e:${s}:${i}`, event(i)], [`c:${s}:${i}`, event(i + 1)]));
    }
    const out = summariseCells(job, cells(entries), [], undefined);
    const curves = (out.summary.curves as unknown[]).length;
    // Every stratum with persons at risk gets a curve or a note saying why not.
    const kept = initial() > 0 ? 3 : 0;
    expect(curves + out.notes.filter((n) => n.startsWith('Kaplan–Meier curve of stratum')).length).toBe(kept);
    if (kept === 0) expect(out.notes).toContain('log-rank test not computed: fewer than 2 strata with persons at risk');
  });
});
