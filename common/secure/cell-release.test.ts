/**
 * Release of a secure cohort job's totals in mode none (red team 8, F2): a cohort's attrition steps are nested person
 * sets, so two released totals 1 … k − 1 apart disclose the persons one rule removed; the step is withheld (as the
 * plain path's agents withhold it), and the next one is compared with the last released total. Control: steps ≥ k
 * apart are released.
 */
import { describe, expect, it } from 'vitest';
import type { CellJob } from '../job/index.js';
import { parseJobSpec } from '../job/index.js';
import { planSecureCells, releaseSecureCells, withholdCloseConceptTotals } from './cell-layout.js';
import { secAggLimbRing } from './limbs.js';

const job = parseJobSpec({
  kind: 'cohort',
  definition: { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } }, inclusionRules: [{ name: 'adult', type: 'age', min: 18 }, { name: 'older', type: 'age', min: 40 }] },
  privacy: { mode: 'none' },
  secure: 'secagg',
}) as CellJob;
const rules = ['adult', 'older'];
const plan = planSecureCells(job, rules, 3, secAggLimbRing(3));

function release(qualified: number, rule0: number, rule1: number): { suppressed: unknown[]; attrition: unknown[]; count: unknown; entries: unknown } {
  const totals = new Map<string, bigint>([['qualified', BigInt(qualified)], ['rule:0', BigInt(rule0)], ['rule:1', BigInt(rule1)], ['persons', BigInt(rule1)], ['entries', BigInt(rule1)]]);
  const r = releaseSecureCells(job, plan, totals, 3, 10);
  return { suppressed: r.suppressed.map((s) => s.group.cell), attrition: (r.summary.attrition as { persons: unknown }[]).map((a) => a.persons), count: r.summary.count, entries: r.summary.entries };
}

describe('secure cohort release in mode none: nested attrition totals', () => {
  it('withholds a step 1 … k − 1 below the last released one, and the cohort that equals it', () => {
    const r = release(100, 97, 60);
    expect(r.suppressed).toEqual(['rule:0']);
    expect(r.entries).toBe(60);
    // rule:1 is compared with qualified (100 − 60 ≥ k): released; the cohort equals it (0 apart): released.
    expect(r.attrition).toEqual([100, null, 60]);
    const s = release(100, 80, 75);
    // The entries (at least the persons) go with the cohort they would give back (red team 9, F1), and so does every
    // cell about the withheld cohort's persons, zeros included (red team 41, F1: age bands and genders).
    expect(s.suppressed.slice(0, 3)).toEqual(['rule:1', 'persons', 'entries']);
    expect(s.suppressed.slice(3).every((c) => String(c).startsWith('age:') || String(c).startsWith('gender:'))).toBe(true);
    expect(s.suppressed.length).toBeGreaterThan(3);
    expect(s.attrition).toEqual([100, 80, null]);
    expect(s.count).toBeNull();
    expect(s.entries).toBeNull();
  });

  it('releases steps k or more apart (control)', () => {
    expect(release(100, 90, 60)).toEqual({ suppressed: [], attrition: [100, 90, 60], count: 60, entries: 60 });
  });
});

describe('secure characterisation in mode none: concept totals close to a kept total (red team 10, F4)', () => {
  const cellsOf = (entries: [string, number | null][]): Map<string, { value: number | null; std: number }> => new Map(entries.map(([k, v]) => [k, { value: v, std: 0 }]));
  const run = (entries: [string, number | null][], k: number): string[] => {
    const cells = cellsOf(entries);
    const suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[] = [];
    withholdCloseConceptTotals(cells, suppressed, k);
    for (const s of suppressed) expect(cells.get(String(s.group.cell))!.value).toBeNull();
    return suppressed.map((s) => String(s.group.cell));
  };
  const cells: [string, number | null][] = [['persons', 100], ['age:0-49', null], ['age:50+', 70], ['gender:8507', 40], ['condition:1', 60], ['condition:2', 57], ['drug:3', 97], ['condition:4', 30], ['drug:5', 73], ['condition:6', 0]];

  it('withholds a descendant 3 below its ancestor and a concept 3 below the cohort; keeps the rest, bands and genders not compared', () => {
    // drug:5 is 3 above the 50+ band: not compared (see withholdCloseConceptTotals).
    expect(run(cells, 10)).toEqual(['condition:2', 'drug:3']);
  });

  it('control: at k = 3 no difference is 1 … 2, so nothing is withheld; a withheld concept is not a reason for the next', () => {
    expect(run(cells, 3)).toEqual([]);
    // condition:2 (95) is withheld against the cohort; condition:3 (92) is 3 from it but 8 from the cohort: withheld
    // for the cohort only when k > 8.
    expect(run([['persons', 100], ['condition:1', 60], ['condition:2', 95], ['condition:3', 92]], 8)).toEqual(['condition:2']);
    expect(run([['persons', 100], ['condition:1', 60], ['condition:2', 95], ['condition:3', 92]], 9)).toEqual(['condition:2', 'condition:3']);
  });

  it('the built-in HE path applies it: a characterisation whose condition total is 3 below the cohort\'s releases it as withheld (control: 30 below, released)', () => {
    const ch = parseJobSpec({ kind: 'characterize', definition: { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } }, conditionConcepts: [2], drugConcepts: [], privacy: { mode: 'none' }, secure: 'he' }) as CellJob;
    const p = planSecureCells(ch, [], 3, secAggLimbRing(3));
    const at = (persons: number, condition: number): unknown[] => {
      const totals = new Map<string, bigint>(p.blocks.flatMap((b) => b.cells).map((c) => [c, 0n]));
      totals.set('persons', BigInt(persons));
      totals.set('condition:2', BigInt(condition));
      for (const c of p.blocks.flatMap((b) => b.cells)) if (c.startsWith('age:') || c.startsWith('gender:')) totals.set(c, 0n);
      return releaseSecureCells(ch, p, totals, 3, 10).suppressed.map((x) => x.group.cell);
    };
    expect(at(100, 97)).toContain('condition:2');
    expect(at(100, 70)).not.toContain('condition:2');
  });
});
