import { describe, expect, it } from 'vitest';
import * as dp from '../../algorithms/dp/index.js';
import { planCellPrivacy } from './cell-privacy.js';
import { cellBlocks, ruleNamesFor } from './cohort-jobs.js';
import type { CellJob } from './spec.js';
import { parseJobSpec } from './validate.js';

/** The cohort-level privacy plan in process (issue 9, test pyramid): equal split over DP-safe blocks, cost within the budget. */
const definition = { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }] };
const cohort = (privacy: Record<string, unknown>): CellJob => parseJobSpec({ kind: 'cohort', definition, privacy }) as CellJob;
const blocksOf = (job: CellJob) => cellBlocks(job, ruleNamesFor(job));

describe('planCellPrivacy', () => {
  it('mode none: every block, no noise, no cost', () => {
    const job = cohort({ mode: 'none' });
    const p = planCellPrivacy(job, blocksOf(job));
    expect(p.cost).toBeUndefined();
    expect(p.blocks.map((b) => b.block.name)).toEqual(blocksOf(job).map((b) => b.name));
    expect(p.blocks.every((b) => b.noise === undefined)).toBe(true);
  });

  it('DP: equal shares over the DP-safe blocks only; exact-only blocks get no noise and are not released; cost within ρ', () => {
    const job = cohort({ mode: 'central-dp', rho: 0.6 });
    const blocks = blocksOf(job);
    const p = planCellPrivacy(job, blocks);
    const safe = blocks.filter((b) => b.dpSafe);
    expect(safe.length).toBeGreaterThan(1);
    expect(blocks.some((b) => !b.dpSafe)).toBe(true);
    expect(p.budgetSplit).toBe(`equal shares over ${safe.length} block(s): ${safe.map((b) => b.name).join(', ')}`);
    for (const b of p.blocks) expect(b.noise === undefined, b.block.name).toBe(!b.block.dpSafe);
    expect(p.cost!.rho).toBeLessThanOrEqual(0.6);
    expect(p.cost!.rho).toBeGreaterThan(0.6 * (1 - 1e-5));
  });

  it('a person at up to m sites moves every cell by m: the Gaussian variance grows by m²', () => {
    const sigma2 = (m: number): number => {
      const job = cohort({ mode: 'central-dp', rho: 0.5, maxSitesPerPerson: m });
      return planCellPrivacy(job, blocksOf(job)).blocks.find((b) => b.block.name === 'persons')!.noise!.info.parameter;
    };
    expect(sigma2(3) / sigma2(1)).toBeCloseTo(9, 4);
    expect(sigma2(2) / sigma2(1)).toBeCloseTo(4, 4);
  });

  it('pure ε gives Laplace noise with a pure-ε cost within the request', () => {
    const job = cohort({ mode: 'local-dp', epsilon: 2 });
    const p = planCellPrivacy(job, blocksOf(job));
    expect(p.blocks.find((b) => b.noise)!.noise!.info.distribution).toBe('discrete-laplace');
    expect(p.cost!.delta).toBe(0);
    expect(p.cost!.epsilon).toBeLessThanOrEqual(2);
    expect(dp.epsilonAtDelta(p.cost!, 1e-6)).toBeLessThanOrEqual(2 + 1e-9);
  });
});
