import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../common/job/index.js';
import type { CellJob } from '../../common/job/index.js';
import { admitCellJob } from './cell-job.js';

const target = { name: 'T2D', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' } };
const spec = { kind: 'survival', target, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 1800 }, privacy: { mode: 'none' } };

describe('admission of survival jobs with "model": "cox"', () => {
  it('is refused on the cell-job path before any charge (FAILED_PRECONDITION naming model): it runs as survival-cox', () => {
    const job = parseJobSpec({ ...spec, model: 'cox', covariates: [{ name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }] }) as CellJob;
    expect(() => admitCellJob(job, [])).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION', field: 'model' }));
  });
  it('negative control: the same job as Kaplan–Meier gets past that check (and fails later only for lack of agents)', () => {
    const job = parseJobSpec(spec) as CellJob;
    expect(() => admitCellJob(job, [])).toThrow(expect.objectContaining({ field: 'kind' }));
  });
});
