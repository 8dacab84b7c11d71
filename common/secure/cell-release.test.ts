/**
 * Release of a secure cohort job's totals in mode none (red team 8, F2): a cohort's attrition steps are nested person
 * sets, so two released totals 1 … k − 1 apart disclose the persons one rule removed; the step is withheld (as the
 * plain path's agents withhold it), and the next one is compared with the last released total. Control: steps ≥ k
 * apart are released.
 */
import { describe, expect, it } from 'vitest';
import type { CellJob } from '../job/spec.js';
import { parseJobSpec } from '../job/validate.js';
import { planSecureCells, releaseSecureCells } from './cell-layout.js';
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
    // The entries (at least the persons) go with the cohort they would give back (red team 9, F1).
    expect(s.suppressed).toEqual(['rule:1', 'persons', 'entries']);
    expect(s.attrition).toEqual([100, 80, null]);
    expect(s.count).toBeNull();
    expect(s.entries).toBeNull();
  });

  it('releases steps k or more apart (control)', () => {
    expect(release(100, 90, 60)).toEqual({ suppressed: [], attrition: [100, 90, 60], count: 60, entries: 60 });
  });
});
