import { describe, expect, it } from 'vitest';
import type { JobSpec } from '../../common/job/index.js';
import { admitAggregate, combineAggregate } from './aggregate-job.js';
import { admitCellJob } from './cell-job.js';
import { parseJobSpec } from '../../common/job/index.js';
import { oldKindPath } from './old-kinds.js';
import { admitContingency } from './contingency-admission.js';

/** The one lookup that replaced the coordinator's `spec.kind === 'aggregate' ? … : …` branches sends each kind to its own path. */
describe('oldKindPath', () => {
  const specOf = (kind: JobSpec['kind']): JobSpec => ({ kind, privacy: { mode: 'none' } }) as unknown as JobSpec;

  it('sends aggregate to the aggregate admission and combine', () => {
    const p = oldKindPath(specOf('aggregate'));
    expect(p.admit).toBe(admitAggregate);
    expect(p.combine).toBe(combineAggregate);
  });

  it.each(['cohort', 'characterize'] as const)('%s (ported to jobs/cohort) keeps only the cell jobs\' catalogue admission; its plain path refuses', (kind) => {
    const p = oldKindPath(specOf(kind));
    expect(p.admit).toBe(admitCellJob);
    expect(() => p.cost(specOf(kind) as never, [])).toThrow(/kind seam/);
  });

  it('contingency (ported to jobs/contingency) keeps only its catalogue admission; its plain path refuses', () => {
    const p = oldKindPath(specOf('contingency'));
    expect(p.admit).toBe(admitContingency);
    expect(() => p.cost(specOf('contingency') as never, [])).toThrow(/kind seam/);
  });

  it('survival (ported to jobs/survival-km) keeps only the cell jobs\' catalogue admission; its plain path refuses', () => {
    const p = oldKindPath(specOf('survival'));
    expect(p.admit).toBe(admitCellJob);
    expect(() => p.cost(specOf('survival') as never, [])).toThrow(/kind seam/);
    expect(() => p.combine(specOf('survival') as never, [], [], undefined as never)).toThrow(/kind seam/);
  });

  it('reserves the cost of the aggregate kind\'s own plan: nothing in mode none, the stated ε in central-dp (negative control)', () => {
    const table = (privacy: Record<string, unknown>): JobSpec => parseJobSpec(JSON.stringify({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy }));
    const agent = { name: 'a', products: [{ name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }] }] } as never;
    const none = table({ mode: 'none' });
    expect(oldKindPath(none).cost(none, [agent])).toBeUndefined();
    const dp = table({ mode: 'central-dp', epsilon: 0.5 });
    // Within the stated ε (the plan calibrates on a grid, which can spend a little less).
    const epsilon = oldKindPath(dp).cost(dp, [agent])?.epsilon ?? 0;
    expect(epsilon).toBeGreaterThan(0.49);
    expect(epsilon).toBeLessThanOrEqual(0.5);
  });
});
