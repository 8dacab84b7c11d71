import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../common/job/index.js';
import { checkResultSize, estimateResultSize, MAX_AGENT_REPLY_BYTES, MAX_GROUPS_PER_AGENT, MAX_RESULT_VALUES } from './result-size.js';

const agg = (extra: Record<string, unknown>) => parseJobSpec(JSON.stringify({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 }, ...extra }));
const keys = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const bins = (n: number): number[] => Array.from({ length: n + 1 }, (_, i) => i);

describe('result size at admission (from the spec alone)', () => {
  it('counts groups × released numbers: value, std and both interval ends per number', () => {
    const e = estimateResultSize(agg({ groupBy: ['year_of_birth'], groupKeys: { year_of_birth: keys(10_000) }, measures: [{ fn: 'count' }, { fn: 'histogram', column: 'bmi', bins: bins(300) }] }), 3);
    expect(e).toMatchObject({ groups: 10_000, valuesPerGroup: 1 + 4 + 3 * 300 + 1, values: 9_060_000, field: 'groupKeys', what: 'groupKeys × measures[1]' });
    // The agent's Arrow partial: key (8) + count (8) + suppressed (1) + 300 Int64 bins.
    expect(e.agentReplyBytes).toBe(10_000 * (8 + 8 + 1 + 8 * 300));
  });

  it('without public keys, every agent is assumed to return its maximum of groups', () => {
    const e = estimateResultSize(agg({ groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }] }), 4);
    expect(e.groups).toBe(4 * MAX_GROUPS_PER_AGENT);
    expect(e.field).toBe('groupBy');
  });

  it('an ungrouped job is one row', () => {
    expect(estimateResultSize(agg({}), 10)).toMatchObject({ groups: 1, values: 4 });
  });

  it('cohort-level kinds count their cells', () => {
    const contingency = parseJobSpec(JSON.stringify({ kind: 'contingency', product: 'person', rowColumn: 'a', colColumn: 'b', rowLevels: keys(100), colLevels: keys(100), privacy: { mode: 'none' } }));
    expect(estimateResultSize(contingency, 2)).toMatchObject({ groups: 1, values: 4 * (100 * 100 + 2) });
    expect(() => checkResultSize(contingency, 2)).not.toThrow();
  });

  it('refuses over either limit with RESOURCE_EXHAUSTED naming the field and the limit', () => {
    expect(() => checkResultSize(agg({ groupBy: ['y'], groupKeys: { y: keys(10_000) }, measures: [{ fn: 'histogram', column: 'bmi', bins: bins(300) }] }), 1)).toThrow(
      expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', field: 'groupKeys', message: expect.stringContaining(`over the limit of ${MAX_RESULT_VALUES.toLocaleString('en-US')}`) }),
    );
    expect(() => checkResultSize(agg({ groupBy: ['y'], groupKeys: { y: keys(10_000) }, measures: [{ fn: 'quantile', column: 'bmi', bounds: [0, 1], quantiles: [0.5], candidates: 1001 }] }), 1)).toThrow(
      expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining(`over the limit of ${MAX_AGENT_REPLY_BYTES.toLocaleString('en-US')}`) }),
    );
  });

  it('the largest public grouping with a modest histogram is admitted (the limit is not a blanket ban)', () => {
    const e = checkResultSize(agg({ groupBy: ['y'], groupKeys: { y: keys(10_000) }, measures: [{ fn: 'count' }, { fn: 'histogram', column: 'bmi', bins: bins(60) }] }), 5);
    expect(e.values).toBeLessThanOrEqual(MAX_RESULT_VALUES);
    expect(e.agentReplyBytes).toBeLessThanOrEqual(MAX_AGENT_REPLY_BYTES);
  });
});
