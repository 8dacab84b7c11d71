/**
 * Red team 41 (B, F1): the dashboard renders pages and charts on the coordinator's event loop, so what it renders is
 * bounded whatever the result's size: a job page shows the first MAX_PAGE_ROWS rows (the downloads hold all), and a
 * chart at most MAX_CHART_MARKS marks (first groups, or every n-th time bin), saying so. A 10 000-group × 30-bin
 * result made a 158 MB page. Sizes here are deterministic; how long rendering takes is the benchmarks' business.
 */
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../coordinator/job-record.js';
import { fakeBackend } from '../test/helpers/dashboard-backend.js';
import { createDashboardApp } from './app.js';
import { MAX_CHART_MARKS, chartsForJob } from '../client/cli/plot/job-charts.js';
import { toJobView } from './job-view.js';

function bigJob(id: string, groups: number): JobRecord {
  const edges = Array.from({ length: 31 }, (_, i) => i * 0.4);
  const rows = Array.from({ length: groups }, (_, g) => ({ year_of_birth: g, count: 5, histogram_month_of_birth: Array.from({ length: 30 }, (_, i) => (i + g) % 7) }));
  return {
    id, kind: 'aggregate', researcher: 'alice', state: 'succeeded', createdAtMs: 1000, finishedAtMs: 2000, agentsAsked: ['a1'], agentsAnswered: ['a1'], agentsMissing: [], error: undefined,
    spec: { kind: 'aggregate', product: 'person', groupBy: ['year_of_birth'], measures: [{ fn: 'count' }, { fn: 'histogram', column: 'month_of_birth', bins: edges }], privacy: { mode: 'central-dp', epsilon: 1 } } as unknown as JobRecord['spec'],
    result: { columns: ['year_of_birth', 'count', 'histogram_month_of_birth'], rows, suppressed: [], privacy: { mode: 'central-dp' }, notes: [], agentErrors: {} },
  } as JobRecord;
}

const alice = async () => ({ name: 'alice', isAdmin: false, authenticatedBy: 'certificate' as const });

describe('what the dashboard renders is bounded', () => {
  it('a 10 000-group × 30-bin result: the page stays under 4 MB, shows 500 rows and draws the first groups, saying so', async () => {
    const app = createDashboardApp({ backend: fakeBackend([], [bigJob('big', 10_000)]), identify: alice });
    const body = await (await app.request('/jobs/big')).text();
    expect(body.length).toBeLessThan(4_000_000);
    expect(body).toContain('10000 row(s); the first 500 shown here');
    expect(body).toMatch(/Histogram of month_of_birth \(first \d+ of 10000 groups; all in the CSV\)/);
    const charts = chartsForJob(toJobView(bigJob('big', 10_000)));
    for (const c of charts) expect(JSON.stringify(c.spec).length).toBeLessThan(MAX_CHART_MARKS * 400);
  }, 120_000);

  it('control: a 20-group result is shown and drawn whole, with no note', async () => {
    const app = createDashboardApp({ backend: fakeBackend([], [bigJob('small', 20)]), identify: alice });
    const body = await (await app.request('/jobs/small')).text();
    expect(body).toContain('Released result (20 row(s))');
    expect(body).not.toMatch(/first \d+ of/);
  }, 60_000);

  it('a result of 32 measures draws at most 8 charts, each bounded; a training history of 600 rounds × 20 agents is thinned (red team 42)', () => {
    const wide = bigJob('wide', 3000);
    const fields = Array.from({ length: 32 }, (_, i) => `sum_x${i}`);
    wide.spec = { ...(wide.spec as object), measures: fields.map((_, i) => ({ fn: 'sum', column: `x${i}`, bounds: [0, 1] })) } as unknown as JobRecord['spec'];
    wide.result = { ...wide.result!, columns: ['year_of_birth', ...fields], rows: wide.result!.rows.map((r) => ({ year_of_birth: r.year_of_birth, ...Object.fromEntries(fields.map((f, i) => [f, i])) })) };
    const charts = chartsForJob(toJobView(wide));
    expect(charts).toHaveLength(8);
    for (const c of charts) expect(JSON.stringify(c.spec).length).toBeLessThan(MAX_CHART_MARKS * 400);
    const train = {
      ...bigJob('train', 1),
      kind: 'train',
      spec: { kind: 'train', privacy: { mode: 'none' } } as unknown as JobRecord['spec'],
      result: { columns: [], rows: Array.from({ length: 600 }, (_, round) => ({ round, trainLoss: 1 / (round + 1), testLoss: 1 / (round + 2) })), suppressed: [], privacy: { mode: 'none' }, notes: [], agentErrors: {}, summary: { perAgent: Object.fromEntries(Array.from({ length: 20 }, (_, a) => [`agent-${a}`, Array.from({ length: 600 }, (_, round) => ({ round, loss: 1 }))])) } },
    } as JobRecord;
    const [curve] = chartsForJob(toJobView(train));
    // About 45 characters a point: 13 200 points unthinned are 600 kB, the bound's 2 000 under 100 kB.
    expect(JSON.stringify(curve!.spec).length).toBeLessThan(MAX_CHART_MARKS * 60);
  });

  it('a daily Kaplan–Meier grid over 100 years is drawn at every n-th bin, without the at-risk table; control: a short grid whole', () => {
    const km = (n: number): JobRecord =>
      ({
        ...bigJob('km', 1),
        kind: 'survival',
        spec: { kind: 'survival', privacy: { mode: 'none' } } as unknown as JobRecord['spec'],
        result: { columns: [], rows: [], suppressed: [], privacy: { mode: 'none' }, notes: [], agentErrors: {}, summary: { curves: [{ label: 'all', times: Array.from({ length: n }, (_, i) => i + 1), survival: Array.from({ length: n }, (_, i) => 1 - i / (2 * n)), lower: Array(n).fill(0.4), upper: Array(n).fill(0.9), atRisk: Array.from({ length: n }, (_, i) => n - i) }] } },
      }) as JobRecord;
    const [big] = chartsForJob(toJobView(km(36_500)));
    expect(big!.title).toMatch(/every 19th time bin drawn, no number-at-risk table/);
    expect(JSON.stringify(big!.spec).length).toBeLessThan(MAX_CHART_MARKS * 400);
    const [small] = chartsForJob(toJobView(km(300)));
    expect(small!.title).not.toMatch(/every/);
    expect(JSON.stringify(small!.spec)).toContain('Number at risk');
  });
});
