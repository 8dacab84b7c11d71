import { describe, expect, it } from 'vitest';
import type { JobView } from '../../sdk/types.js';
import { chartsForJob, renderVegaLiteSvg } from './index.js';

function view(kind: string, result: Partial<NonNullable<JobView['result']>>, spec: unknown = {}, state: JobView['state'] = 'succeeded'): JobView {
  return {
    jobId: 'j', state, kind, researcher: 'r', createdAtMs: 0, finishedAtMs: 0, agents: { asked: [], answered: [], missing: [] }, error: undefined, spec,
    result: { columns: [], rows: [], suppressed: [], privacy: { mode: 'none' }, notes: [], agentErrors: {}, ...result },
  };
}

describe('chartsForJob', () => {
  it('draws a histogram per group with bins labelled by their edges, and only released bins', () => {
    const v = view('aggregate', { columns: ['g', 'histogram_age'], rows: [{ g: 1, histogram_age: [5, null, 7] }, { g: 2, histogram_age: [1, 2, 3] }] }, { groupBy: ['g'], measures: [{ fn: 'histogram', column: 'age', bins: [0, 10, 20, 30] }] });
    const [h] = chartsForJob(v);
    expect(h!.id).toBe('histogram-histogram_age');
    // The withheld bin (null) is absent, not a bar at zero.
    expect(h!.rows).toEqual([
      { group: '1', bin: '[0, 10)', order: 0, count: 5 }, { group: '1', bin: '[20, 30)', order: 2, count: 7 },
      { group: '2', bin: '[0, 10)', order: 0, count: 1 }, { group: '2', bin: '[10, 20)', order: 1, count: 2 }, { group: '2', bin: '[20, 30)', order: 2, count: 3 },
    ]);
  });

  it('draws KM curves from S(0) = 1, attrition, forest plots and training curves', async () => {
    const km = chartsForJob(view('survival', { privacy: { mode: 'none' }, summary: { curves: [{ label: 'all', times: [30, 60], survival: [0.9, 0.8], lower: [0.85, 0.7], upper: [0.95, 0.9], atRisk: [100, 80] }] } }));
    expect(km[0]!.rows[0]).toEqual({ stratum: 'all', time: 0, survival: 1, lower: 1, upper: 1 });
    const att = chartsForJob(view('cohort', { summary: { attrition: [{ rule: 'entry', persons: 100 }, { rule: 'age 40+', persons: 60 }] } }));
    expect(att[0]!.rows).toEqual([{ step: 0, rule: 'entry', persons: 100 }, { step: 1, rule: 'age 40+', persons: 60 }]);
    const glm = chartsForJob(view('glm', { rows: [{ term: '(Intercept)', estimate: 1, ci95Lower: 0, ci95Upper: 2 }, { term: 'age', estimate: 0.5, ci95Lower: 0.2, ci95Upper: 0.8 }] }));
    expect(glm[0]!.rows).toEqual([{ term: 'age', estimate: 0.5, lower: 0.2, upper: 0.8 }]);
    const cox = chartsForJob(view('survival-cox', { rows: [{ term: 'sex', 'exp(coef)': 1.5, 'lower .95': 1.1, 'upper .95': 2 }] }));
    expect(cox[0]!.id).toBe('forest');
    const fl = chartsForJob(view('train', { rows: [{ round: 1, trainLoss: 0.7, testLoss: null }, { round: 2, trainLoss: 0.6, testLoss: 0.65 }] }));
    expect(fl[0]!.rows).toEqual([{ round: 1, series: 'train loss (global)', value: 0.7 }, { round: 2, series: 'train loss (global)', value: 0.6 }, { round: 2, series: 'test loss (global)', value: 0.65 }]);
    for (const c of [...km, ...att, ...glm, ...cox, ...fl]) expect(await renderVegaLiteSvg(c.spec)).toMatch(/^<svg[\s\S]*<\/svg>$/);
  });

  it('draws per-agent training curves beside the global ones, from a list or a map of per-round metrics', () => {
    const rows = [{ round: 1, trainLoss: 0.7 }, { round: 2, trainLoss: 0.6 }];
    const list = chartsForJob(view('train', { rows, summary: { perAgent: [{ agent: 'site-a', round: 1, trainLoss: 0.8 }, { agent: 'site-b', round: 1, trainLoss: 0.65, testLoss: 0.66 }] } }));
    const map = chartsForJob(view('train', { rows, summary: { perAgent: { 'site-a': [{ round: 1, trainLoss: 0.8 }], 'site-b': [{ round: 1, trainLoss: 0.65, testLoss: 0.66 }] } } }));
    const series = (c: typeof list) => [...new Set(c[0]!.rows.map((r) => r.series))];
    expect(series(list)).toEqual(['train loss (global)', 'train loss (site-a)', 'train loss (site-b)', 'test loss (site-b)']);
    expect(map[0]!.rows).toEqual(list[0]!.rows);
    // Only the global curves when the result carries no per-agent metrics.
    expect(series(chartsForJob(view('train', { rows })))).toEqual(['train loss (global)']);
  });

  it('draws nothing for a failed job or a job without a result', () => {
    expect(chartsForJob(view('cohort', { summary: { attrition: [{ rule: 'entry', persons: 1 }] } }, {}, 'failed'))).toEqual([]);
    expect(chartsForJob({ ...view('aggregate', {}), result: undefined })).toEqual([]);
  });
});
