import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetHistoryCharts } from '../../client/cli/plot/index.js';
import { parseJobSpec } from '../../common/job/index.js';
import type { JobRecord } from '../job-record.js';
import { JobStore } from '../job-store.js';
import { Ledger } from '../ledger.js';
import { headPath } from './state-head.js';

/** The ledger's charge history, and the Budget page's charts drawn from it against the ledger's own report. */
const spec = (privacy: Record<string, unknown>, project?: string) => parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy, ...(project ? { project } : {}) });
const job = (id: string, researcher: string, s: JobRecord['spec']): JobRecord => ({ id, kind: 'aggregate', researcher, spec: s, state: 'running', createdAtMs: 1, finishedAtMs: undefined, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined });
const PERSON = [{ population: 'person', products: ['person'] }];
const VISITS = [{ population: 'visit', products: ['visit_occurrence', 'visit_detail'] }];

describe('ledger charge history → spend over time', () => {
  let store: JobStore;
  let ledger: Ledger;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-ledger-history-'));
    store = await JobStore.open(dir);
    ledger = await Ledger.open(store, { epsilon: 3, delta: 1e-6 }, { stateDir: dir, headFile: headPath(dir) });
    await ledger.setBudget('alice', 'person', { epsilon: 2, delta: 1e-5 }, 'admin');
    await ledger.admit(job('j1', 'alice', spec({ mode: 'central-dp', epsilon: 0.3 }, 'P-1')), PERSON, { rho: 0.045, epsilon: 0.3, delta: 0 });
    await ledger.admit(job('j2', 'bob', spec({ mode: 'central-dp', epsilon: 0.5 })), PERSON, { rho: 0.125, epsilon: 0.5, delta: 0 });
    // A ρ-only charge: its ε exists only at a δ, so the composed ε is not a sum of per-job ε.
    await ledger.admit(job('j3', 'alice', spec({ mode: 'central-dp', rho: 0.02 }, 'P-1')), PERSON, { rho: 0.02, epsilon: Infinity, delta: 0 });
    await ledger.admit(job('j4', 'alice', spec({ mode: 'central-dp', epsilon: 0.2 })), VISITS, { rho: 0.02, epsilon: 0.2, delta: 1e-7 });
    await ledger.commit('j1');
  });
  afterAll(async () => {
    await ledger?.flush();
    store?.close();
  });

  it("returns a researcher's own charges oldest first, with products, state and the job's project; everyone's without a name", async () => {
    const alice = await ledger.history('alice', 100);
    expect(alice.map((c) => [c.jobId, c.population, c.state, c.project ?? null])).toEqual([['j1', 'person', 'committed', 'P-1'], ['j3', 'person', 'reserved', 'P-1'], ['j4', 'visit', 'reserved', null]]);
    expect(alice[2]!.products).toEqual(['visit_occurrence', 'visit_detail']);
    expect(alice[1]!.epsilon).toBeNull();
    expect((await ledger.history(undefined, 100)).map((c) => c.jobId)).toEqual(['j1', 'j2', 'j3', 'j4']);
    // The limit keeps the newest.
    expect((await ledger.history(undefined, 2)).map((c) => c.jobId)).toEqual(['j3', 'j4']);
  });

  it("each population's last point is the ε and δ spent the ledger's report states (composed in zCDP at the budget's δ)", async () => {
    const report = await ledger.report('alice');
    const lines = report.map((e) => ({ researcher: e.researcher, population: e.population, epsilon: e.budget.epsilon, delta: e.budget.delta }));
    const charts = budgetHistoryCharts(await ledger.history('alice', 100), lines, { defaultDelta: 1e-6, showResearcher: false });
    expect(charts.map((c) => c.id)).toEqual(['spend-population', 'spend-product', 'spend-project', 'spend-delta']);
    const last = (rows: Record<string, unknown>[], series: string, field: string) => rows.filter((r) => r.series === series).at(-1)![field];
    for (const e of report) {
      expect(last(charts[0]!.rows, e.population, 'epsilon')).toBeCloseTo(e.spent.epsilonAtBudgetDelta, 9);
      expect(last(charts[3]!.rows, e.population, 'delta')).toBeCloseTo(e.spent.delta, 15);
    }
    // Negative control: summing each job's ε (or stating ε at another δ) does not give the ledger's figure.
    const person = report.find((e) => e.population === 'person')!;
    expect(Math.abs(0.3 + 0.2 - person.spent.epsilonAtBudgetDelta)).toBeGreaterThan(1e-3);
    const atOtherDelta = budgetHistoryCharts(await ledger.history('alice', 100), lines.map((l) => ({ ...l, delta: 1e-3 })), { defaultDelta: 1e-6, showResearcher: false });
    expect(Math.abs(Number(last(atOtherDelta[0]!.rows, 'person', 'epsilon')) - person.spent.epsilonAtBudgetDelta)).toBeGreaterThan(1e-3);
    // Per product: both visit products carry the visit charge; per project: P-1's two charges.
    expect(charts[1]!.rows.filter((r) => r.series === 'visit_detail')).toHaveLength(1);
    expect(charts[2]!.rows.map((r) => r.series)).toEqual(['P-1', 'P-1']);
    // The budget is drawn as a rule per population.
    expect(JSON.stringify(charts[0]!.spec)).toContain('"budget":2');
  });

  it('an administrator view names whose budget each series is', async () => {
    const all = await ledger.history(undefined, 100);
    const charts = budgetHistoryCharts(all, [], { defaultDelta: 1e-6, showResearcher: true });
    expect([...new Set(charts[0]!.rows.map((r) => r.series))].sort()).toEqual(['alice · person', 'alice · visit', 'bob · person']);
    expect(budgetHistoryCharts([], [], { defaultDelta: 1e-6, showResearcher: true })).toEqual([]);
  });
});
