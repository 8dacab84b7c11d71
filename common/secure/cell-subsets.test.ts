/**
 * The secure release's twin of the agents' subsets rule (red team 41, F1): on the totals of a secure sum in mode
 * none, a withheld cohort (or Kaplan–Meier stratum) takes every cell about its persons along, zeros included.
 */
import { describe, expect, it } from 'vitest';
import { parseJobSpec, type CellJob, type ReleasedCell } from '../job/index.js';
import { cellSubsets, withholdSubsetTotals } from './cell-layout.js';

const target = { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] } } };

describe('cell subsets on secure totals', () => {
  it('characterize: persons → age bands, genders and every listed concept; survival: each stratum → its endpoints', () => {
    const ch = parseJobSpec({ kind: 'characterize', definition: target, conditionConcepts: [320128], drugConcepts: [1503297], privacy: { mode: 'none' } }) as CellJob;
    const [s] = cellSubsets(ch);
    expect(s!.total).toBe('persons');
    expect(s!.entries.some((e) => e.startsWith('age:'))).toBe(true);
    expect(s!.entries.some((e) => e.startsWith('gender:'))).toBe(true);
    expect(s!.entries.filter((e) => e.includes('320128') || e.includes('1503297'))).toHaveLength(2);
    const km = parseJobSpec({ kind: 'survival', target, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 730 }, strata: 'gender', privacy: { mode: 'none' } }) as CellJob;
    const subsets = cellSubsets(km);
    expect(subsets.length).toBeGreaterThan(1);
    for (const x of subsets) expect(x.entries.every((e) => e.split(':')[1] === x.total.slice(2))).toBe(true);
  });

  it('a withheld total hides its entries, zeros included; a released one keeps them (control)', () => {
    const cells = new Map<string, ReleasedCell>([
      ['persons', { value: null, std: 0 }],
      ['age:0-17', { value: 0, std: 0 }],
      ['cond:1', { value: null, std: 0 }],
    ]);
    const suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[] = [];
    withholdSubsetTotals(cells, suppressed, 'persons', ['age:0-17', 'cond:1']);
    expect(cells.get('age:0-17')!.value).toBeNull();
    expect(suppressed.map((s) => s.group.cell)).toEqual(['age:0-17']);
    const kept = new Map<string, ReleasedCell>([
      ['persons', { value: 40, std: 0 }],
      ['age:0-17', { value: 0, std: 0 }],
    ]);
    withholdSubsetTotals(kept, [], 'persons', ['age:0-17']);
    expect(kept.get('age:0-17')!.value).toBe(0);
  });
});
