import { describe, expect, it } from 'vitest';
import type { JobView } from '../../sdk/types.js';
import { jobToJson, renderJob } from './render.js';
import { resultTable } from '../../sdk/result-table.js';

/** A job over three agents where a3 did not take part; `complete` as the coordinator marks it. */
function job(complete: boolean | undefined): JobView {
  const missing = complete === false ? [{ agent: 'a3', reason: 'not live since 2026-01-01T00:00:00Z (no heartbeat for more than 6000 ms; last heartbeat 2026-01-01T00:00:00Z)' }] : undefined;
  return {
    jobId: 'j1',
    state: 'succeeded',
    kind: 'aggregate',
    researcher: 'r',
    createdAtMs: 0,
    finishedAtMs: 0,
    agents: { asked: ['a1', 'a2'], answered: ['a1', 'a2'], missing: complete === false ? ['a3'] : [] },
    result: { columns: ['count'], rows: [{ count: 1767 }], suppressed: [], privacy: { mode: 'none' }, notes: [], agentErrors: {}, ...(complete !== undefined ? { complete } : {}), ...(missing ? { agentsMissing: missing } : {}) },
    error: undefined,
    spec: { kind: 'aggregate', measures: [{ fn: 'count' }] },
  };
}

describe('a partial result is never shown as complete (issue 14 item 4)', () => {
  it('text: the header counts every agent the job concerns and a PARTIAL line comes before the numbers', () => {
    const lines = renderJob(job(false), false).split('\n');
    expect(lines[0]).toBe('job j1: succeeded  (agents answered 2/3, missing: a3)');
    expect(lines[1]).toBe('PARTIAL result: 2 of 3 agents answered; missing: a3 (not live since 2026-01-01T00:00:00Z (no heartbeat for more than 6000 ms; last heartbeat 2026-01-01T00:00:00Z))');
  });

  it('negative control: a complete result (and one from an older coordinator, without the field) has no PARTIAL line', () => {
    for (const c of [true, undefined]) {
      const out = renderJob(job(c), false);
      expect(out).not.toMatch(/PARTIAL/);
      expect(out.split('\n')[0]).toBe('job j1: succeeded  (agents answered 2/2)');
    }
  });

  it('JSON carries complete and agentsMissing; flat files (CSV, Arrow, Parquet) carry them on every row', () => {
    expect(jobToJson(job(false))).toMatchObject({ complete: false, agentsMissing: [{ agent: 'a3' }] });
    expect(jobToJson(job(true))).toMatchObject({ complete: true });
    const t = resultTable(job(false));
    expect(t.columns).toEqual(['count', 'complete', 'agents_missing']);
    expect(t.rows[0]).toMatchObject({ count: 1767, complete: false, agents_missing: expect.stringMatching(/^a3 \(not live since/) });
    expect(resultTable(job(true)).columns).toEqual(['count']);
  });
});
