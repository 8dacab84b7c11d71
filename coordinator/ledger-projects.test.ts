/** Issue 11: budgets per project (ethics approval), shared by the project's researchers, on top of their own. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../common/job/index.js';
import { Coordinator } from './coordinator.js';
import type { JobRecord } from './job-record.js';
import { checkCoordinatorState } from './state/check-state.js';
import { editState } from '../test/helpers/state-db.js';

const spec = (project?: string) =>
  parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 }, ...(project ? { project } : {}) });
const job = (id: string, researcher: string, project?: string): JobRecord => ({
  id, kind: 'aggregate', researcher, spec: spec(project), state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined,
});
const PERSON = [{ population: 'person', products: ['person'] }];
/** ρ of one ε = 1 job (pure DP at ε: ρ = ε²/2). */
const COST = { rho: 0.5, epsilon: 1, delta: 0 };

describe('project budgets', () => {
  let dir: string;
  let state: string;
  let c: Coordinator;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ledger-project-'));
    state = join(dir, 'state');
    c = await Coordinator.create({ stateDir: state });
    // Each researcher alone has room for 10 such jobs; the project for (about) 2 in total.
    for (const r of ['alice', 'bob']) await c.setBudget('admin', true, r, { population: 'person' }, { epsilon: 10, delta: 1e-6 });
    await c.setProjectBudget('admin', true, 'IRB-2026-7', { population: 'person' }, { epsilon: 2.2, delta: 1e-6 });
  });
  afterEach(async () => {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is shared by every researcher of the project: the refusal names the project and charges nothing', async () => {
    await c.ledger.admit(job('a1', 'alice', 'IRB-2026-7'), PERSON, COST);
    await c.ledger.admit(job('b1', 'bob', 'IRB-2026-7'), PERSON, COST);
    const before = { alice: await c.ledger.report('alice'), bob: await c.ledger.report('bob'), project: await c.ledger.projectReport(undefined) };
    const err = await c.ledger.admit(job('b2', 'bob', 'IRB-2026-7'), PERSON, COST).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BUDGET_EXHAUSTED', field: 'project' });
    expect((err as Error).message).toMatch(/project IRB-2026-7 on population person/);
    expect({ alice: await c.ledger.report('alice'), bob: await c.ledger.report('bob'), project: await c.ledger.projectReport(undefined) }).toEqual(before);
    const [p] = await c.ledger.projectReport(undefined);
    expect(p).toMatchObject({ project: 'IRB-2026-7', population: 'person', jobs: 2, researchers: ['alice', 'bob'], spent: { rho: 1 } });
    // Negative controls: bob's own budget has room (a job under no project, or another project, fits).
    await c.ledger.admit(job('b3', 'bob'), PERSON, COST);
    await c.ledger.admit(job('b4', 'bob', 'OTHER-1'), PERSON, COST);
  });

  it("applies in addition to the researcher's own budget (a job must fit in both)", async () => {
    await c.setBudget('admin', true, 'carol', { population: 'person' }, { epsilon: 1.1, delta: 1e-6 });
    await c.ledger.admit(job('c1', 'carol', 'IRB-2026-7'), PERSON, COST);
    const err = await c.ledger.admit(job('c2', 'carol', 'IRB-2026-7'), PERSON, COST).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BUDGET_EXHAUSTED', field: 'privacy' });
    expect((err as Error).message).toMatch(/researcher carol/);
  });

  it('a researcher sees only the projects they ran jobs under, and not who else spent there', async () => {
    await c.ledger.admit(job('a1', 'alice', 'IRB-2026-7'), PERSON, COST);
    await c.ledger.admit(job('b1', 'bob', 'IRB-2026-7'), PERSON, COST);
    await c.ledger.admit(job('b2', 'bob', 'OTHER-1'), PERSON, COST);
    const alice = await c.ledger.projectReport('alice');
    expect(alice.map((e) => [e.project, e.jobs, e.researchers])).toEqual([['IRB-2026-7', 2, ['alice']]]);
    const all = await c.ledger.projectReport(undefined);
    expect(all.map((e) => e.project)).toEqual(['IRB-2026-7', 'OTHER-1']);
  });

  it('refuses a malformed project or a non-administrator, naming the field', async () => {
    await expect(c.setProjectBudget('admin', true, 'has space', { population: 'person' }, { epsilon: 1, delta: 1e-6 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'project' });
    await expect(c.setProjectBudget('alice', false, 'IRB-1', { population: 'person' }, { epsilon: 1, delta: 1e-6 })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
  });

  it('the chain replays project budgets and charges; an edited project budget or a charge moved out of its project is detected', async () => {
    await c.ledger.admit(job('a1', 'alice', 'IRB-2026-7'), PERSON, COST);
    await c.ledger.commit('a1');
    await c.close();
    expect((await checkCoordinatorState(state)).problems).toEqual([]);
    await editState(state, [`UPDATE project_budgets SET epsilon = 100`]);
    expect((await checkCoordinatorState(state)).problems.join('\n')).toMatch(/budget of project IRB-2026-7 on population person differs from the ledger chain/);
    await editState(state, [`UPDATE project_budgets SET epsilon = 2.2`, `UPDATE population_charges SET project = NULL`]);
    expect((await checkCoordinatorState(state)).problems.join('\n')).toMatch(/charge of job a1 on population person differs from the ledger chain/);
    await editState(state, [`UPDATE population_charges SET project = 'IRB-2026-7'`]);
    expect((await checkCoordinatorState(state)).problems).toEqual([]);
    c = await Coordinator.create({ stateDir: state });
    expect((await c.ledger.projectReport(undefined))[0]).toMatchObject({ project: 'IRB-2026-7', jobs: 1 });
  });

  it('a ledger written before project budgets (no project column, no project table) opens unchanged', async () => {
    // An old-format state: built fresh, then its project column and table removed before any project was used.
    await c.close();
    await rm(dir, { recursive: true, force: true });
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ledger-project-'));
    state = join(dir, 'state');
    c = await Coordinator.create({ stateDir: state });
    await c.setBudget('admin', true, 'alice', { population: 'person' }, { epsilon: 10, delta: 1e-6 });
    await c.ledger.admit(job('a1', 'alice'), PERSON, COST);
    await c.ledger.commit('a1');
    const old = await c.ledger.report();
    await c.close();
    await editState(state, [`DROP TABLE project_budgets`, `ALTER TABLE population_charges DROP COLUMN project`]);
    expect((await checkCoordinatorState(state)).problems).toEqual([]);
    c = await Coordinator.create({ stateDir: state });
    expect(await c.ledger.report()).toEqual(old);
    await c.ledger.admit(job('a2', 'alice', 'IRB-2026-7'), PERSON, COST);
    expect((await c.ledger.projectReport(undefined)).map((e) => [e.project, e.jobs, e.budget])).toEqual([['IRB-2026-7', 1, undefined]]);
    // Negative control: a charge row edited in the migrated state is still detected.
    await c.close();
    await editState(state, [`UPDATE population_charges SET rho = 0 WHERE job_id = 'a1'`]);
    expect((await checkCoordinatorState(state)).problems.join('\n')).toMatch(/charge of job a1 on population person differs/);
    c = await Coordinator.create({ stateDir: state }).catch(() => c);
  });
});
