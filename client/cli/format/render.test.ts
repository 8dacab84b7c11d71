import { describe, expect, it } from 'vitest';
import type { JobView } from '../../sdk/types.js';
import { renderJob, renderSummary } from './render.js';

function job(kind: string, result: Partial<NonNullable<JobView['result']>>): JobView {
  return {
    jobId: 'j1',
    state: 'succeeded',
    kind,
    researcher: 'r',
    createdAtMs: 0,
    finishedAtMs: 0,
    agents: { asked: ['a1'], answered: ['a1'], missing: [] },
    result: { columns: [], rows: [], suppressed: [], privacy: {}, notes: [], agentErrors: {}, ...result },
  } as unknown as JobView;
}

describe('numbers are not shown misleadingly (issue 14 item 8)', () => {
  it('a DP cohort table never prints a negative number of persons (the noisy value is kept in the JSON)', () => {
    const s = { count: 41.6, count_std: 3.2, byAgeBand: [{ band: '0-17', count: -2.4, count_std: 3.2 }], byGender: [{ gender: 'male', count: -0.6, count_std: 3.2 }], attrition: [{ rule: '(qualifying events)', persons: -1.2, persons_std: 3.2 }] };
    const out = renderSummary('cohort', s, false);
    expect(out).not.toMatch(/(^|[\s│])-\d/m);
    expect(out).toMatch(/0-17\s*│?\s*0 ± 3\.2/);
    expect(out).toMatch(/persons: 42 ± 3\.2/);
  });

  it('the mean of no values shows — with n = 0 missing-count beside it, not 0', () => {
    const out = renderJob(job('aggregate', { columns: ['count', 'mean_value', 'mean_value_missing'], rows: [{ count: 12, mean_value: null, mean_value_n: 0, mean_value_missing: 12 }] }), false);
    expect(out).toMatch(/│ 12\s*│ —\s*│ 12\s*│/);
  });

  it('the contribution bounding bias is printed beside a DP table, and DP p-values say they are approximate', () => {
    const note = 'contribution bounding bias: mean_value_as_number use at most 5 row(s) per person';
    const out = renderJob(job('aggregate', { columns: ['mean_value_as_number', 'mean_value_as_number_std'], rows: [{ mean_value_as_number: 6.1, mean_value_as_number_std: 0.01 }], notes: ['other', note] }), false);
    expect(out).toContain(note);
    const lr = renderSummary('survival', { curves: [], logRank: { statistic: 3, df: 1, pValue: 0.08, pValueApproximate: true } }, false);
    expect(lr).toMatch(/p = 0\.08 \(approximate/);
  });
});
