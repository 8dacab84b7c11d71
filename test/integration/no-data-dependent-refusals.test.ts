import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { MAX_GROUPS_PER_AGENT } from '../../common/job/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { writePersonCsv, type PersonRow } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/**
 * Issue 15 item 2: whether a job succeeds must never depend on the data. Each case runs a pair of neighbouring data
 * sets — the same job with a filter that leaves one person out or in — at the boundary where the old code refused
 * one of them: 10,000 vs 10,001 data-dependent groups (central-dp), and a per-agent count of 300 vs 301 against
 * secureMaxRows 300 (secure jobs, modes none and distributed-dp). Every run on both must succeed. Negative control:
 * on the old code every 10,001-group run failed POLICY_DENIED ("groupBy yields more than 10000 groups") and every
 * 301-row secure run failed ("outside the public per-agent bound"), so these tests fail there.
 */
describe('no data-dependent refusals', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const names = ['a1', 'a2', 'a3'];
  const policy = { allowModes: ['none', 'central-dp', 'distributed-dp'] as ('none' | 'central-dp' | 'distributed-dp')[], allowKinds: ['aggregate', 'glm'], minCellSize: 5, budgetCap: { epsilon: 1e4, delta: 1e-3 } };
  const BIG_BMI = 25;
  /** The one person that makes the 10,001st group at a1. */
  const LAST_SINGLETON_BMI = 100 + (MAX_GROUPS_PER_AGENT - 1) / 1000;

  /** a1: 301 persons with bmi 25 (one of them born 1951), and 10,000 persons each alone in a bmi group of their own. */
  function siteA1(): PersonRow[] {
    const rows: PersonRow[] = [];
    for (let i = 0; i < 301; i++) rows.push({ person_id: 1 + i, gender_concept_id: 8507, year_of_birth: i === 0 ? 1951 : 1950, bmi: BIG_BMI });
    for (let i = 0; i < MAX_GROUPS_PER_AGENT; i++) rows.push({ person_id: 1000 + i, gender_concept_id: 8532, year_of_birth: 1960, bmi: 100 + i / 1000 });
    return rows;
  }
  function site(first: number): PersonRow[] {
    return Array.from({ length: 40 }, (_, i) => ({ person_id: first + i, gender_concept_id: 8507, year_of_birth: 1950, bmi: BIG_BMI }));
  }

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: names });
    const data = [siteA1(), site(100_000), site(200_000)];
    for (const [i, n] of names.entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, data[i]!);
      // Product person opened to glm too (the secure glm case below).
      await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { person: { privacyUnit: 'person_id', allowedJobKinds: ['aggregate', 'glm'], allowedPrivacyModes: ['none', 'central-dp', 'distributed-dp'] } } }));
      // Every agent publishes 300 rows per agent as its bound (below the 2^24 default): the mode-none bound.
      await mesh.startAgent(n, dir, { ...policy, secureMaxRows: 300 });
    }
    await mesh.waitForAgents(3);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', 'person', 1e4, 1e-3);
  });
  afterAll(async () => {
    admin?.close();
    await mesh?.close();
  });

  it('central-dp partition selection: 10,000 and 10,001 groups at one agent both succeed, every run', async () => {
    const job = (leaveOut: number) => ({
      kind: 'aggregate',
      product: 'person',
      agents: ['a1'],
      groupBy: ['bmi'],
      where: [{ column: 'bmi', op: '!=', value: leaveOut }],
      measures: [{ fn: 'count' }],
      privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 },
    });
    // D: the last singleton filtered out (10,000 groups); D': a no-op filter (10,001 groups).
    for (const [groups, leaveOut] of [
      [MAX_GROUPS_PER_AGENT, LAST_SINGLETON_BMI],
      [MAX_GROUPS_PER_AGENT + 1, -1],
    ] as const) {
      for (let run = 0; run < 3; run++) {
        const r = await mesh.client.run(job(leaveOut));
        expect(r.error, `${groups} groups, run ${run}: ${r.error?.message}`).toBeUndefined();
        expect(r.state).toBe('succeeded');
        // The 301-person group passes any sensible threshold; the singletons (count 1) almost never do.
        expect(r.result!.rows.map((x) => x.bmi)).toContain(BIG_BMI);
        expect(r.result!.rows.length).toBeLessThanOrEqual(MAX_GROUPS_PER_AGENT);
        const sel = r.result!.privacy.partitionSelection as { at: string; maxGroupsPerAgent: number; kept: number };
        expect(sel).toMatchObject({ maxGroupsPerAgent: MAX_GROUPS_PER_AGENT, kept: r.result!.rows.length });
        expect(sel.at).toMatch(/each agent/);
        expect(r.result!.notes.join(' ')).toMatch(/an agent keeps at most 10000 groups .* no number of groups makes a job fail/);
      }
    }
  });

  it('mode none (no DP claim) still refuses above 10,000 groups: the count it would state is in a successful result anyway', async () => {
    const job = (leaveOut: number) => ({ kind: 'aggregate', product: 'person', agents: ['a1'], groupBy: ['bmi'], where: [{ column: 'bmi', op: '!=', value: leaveOut }], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    const ok = await mesh.client.run(job(LAST_SINGLETON_BMI));
    expect(ok.error).toBeUndefined();
    // Released plus withheld groups: 1 + 9,999 = 10,000, stated by the successful result.
    expect(ok.result!.rows).toHaveLength(1);
    expect((ok.result!.privacy.withheldGroups as Record<string, number>).a1).toBe(MAX_GROUPS_PER_AGENT - 1);
    const refused = await mesh.client.run(job(-1));
    expect(refused.state).toBe('failed');
    expect(refused.error!.message).toMatch(/groupBy yields more than 10000 groups \(released and withheld\)/);
  });

  const researcherClient = (name: string): CoordinatorClient => new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', name) });

  /** bmi 25 at every agent: a1 holds 300 born 1950 and 1 born 1951; a2 and a3 hold 40 each. */
  const secureJob = (yearOp: '=' | '>=', privacy: Record<string, unknown>) => ({
    kind: 'aggregate',
    product: 'person',
    where: [
      { column: 'bmi', op: '=', value: BIG_BMI },
      { column: 'year_of_birth', op: yearOp, value: 1950 },
    ],
    measures: [{ fn: 'count' }],
    privacy,
    secure: 'secagg',
  });

  it('secure mode none: 300 and 301 rows at an agent against the agreed secureMaxRows 300 both succeed with the same clipped total', async () => {
    // A researcher per job: the two jobs' person sets differ by one person at a1, so the mode-none differencing guard
    // (node-agent/secure/secure-guard.ts) would refuse the second for one researcher, and the groups released by
    // the tests above to 'researcher' overlap them too — what is tested here is that clipping makes no refusal and
    // no visible difference, not the guard (test/integration/secure-differencing.test.ts tests that).
    const bob = researcherClient('bob');
    const carol = researcherClient('carol');
    try {
      for (const op of ['=', '>='] as const) {
        const r = await (op === '=' ? bob : carol).run(secureJob(op, { mode: 'none' }));
        expect(r.error, `${op}: ${r.error?.message}`).toBeUndefined();
        // a1 is clipped to 300 in both: the neighbours cannot be told apart, and nothing says whether an agent clipped.
        expect(r.result!.rows).toEqual([{ count: 300 + 40 + 40 }]);
        expect(r.result!.privacy).toMatchObject({ mode: 'none', secure: 'secagg', secureMaxRows: 300 });
        expect(r.result!.notes.join(' ')).toMatch(/secureMaxRows 300: every agent clips each of its statistics to the public per-agent bound/);
      }
    } finally {
      bob.close();
      carol.close();
    }
  });

  it('secure distributed-dp: 300 and 301 rows at an agent both succeed, every run', async () => {
    for (const op of ['=', '>='] as const) {
      for (let run = 0; run < 3; run++) {
        const r = await mesh.client.run({ ...secureJob(op, { mode: 'distributed-dp', rho: 0.5 }), secureMaxRows: 300 });
        expect(r.error, `${op} run ${run}: ${r.error?.message}`).toBeUndefined();
        expect(Math.abs((r.result!.rows[0]!.count as number) - 380)).toBeLessThan(6 * (r.result!.rows[0]!.count_std as number));
        expect(r.result!.notes.join(' ')).toMatch(/clipping is 1-Lipschitz/);
      }
    }
  });

  it('secureMaxRows is bounded by what the agents publish, decided at admission from public information', async () => {
    const refuse = async (spec: Record<string, unknown>) => (await mesh.client.submitJob(spec).catch((e: unknown) => e)) as Error & { code: string; field?: string };
    const dpJob = secureJob('=', { mode: 'distributed-dp', rho: 0.5 });
    const above = await refuse({ ...dpJob, secureMaxRows: 301 });
    expect(above.code).toBe('FAILED_PRECONDITION');
    expect(above.message).toMatch(/secureMaxRows: 301 is above 300, the largest per-agent bound agent a\d agrees to/);
    const byDefault = await refuse({ ...dpJob, secureMaxRows: undefined });
    expect(byDefault.message).toMatch(/secureMaxRows: 16777216 \(the default; give secureMaxRows\) is above 300/);
    // distributed-dp: any bound up to the maxima, even below a minimum cell size (the noise covers every outcome).
    const dp = await mesh.client.run({ ...dpJob, secureMaxRows: 4 });
    expect(dp.error).toBeUndefined();
  });

  // Negative control: before, mode none took any researcher bound from the largest k up to the smallest maximum, so
  // the totals for b = 100 and b = 300 (220 and 380 here) told a1's count apart; both submissions below succeeded.
  it('secure mode none: the bound is the agreed one; a researcher bound that differs is refused naming secureMaxRows and the agreed value', async () => {
    const refuse = async (spec: Record<string, unknown>) => (await mesh.client.submitJob(spec).catch((e: unknown) => e)) as Error & { code: string; field?: string };
    for (const b of [5, 100, 299, 301]) {
      const e = await refuse({ ...secureJob('=', { mode: 'none' }), secureMaxRows: b });
      expect(e.code, `${b}`).toBe('INVALID_JOB'); // gRPC INVALID_ARGUMENT
      expect(e.field).toBe('secureMaxRows');
      expect(e.message).toMatch(new RegExp(`secureMaxRows: ${b} is not the agreed 300: in mode none`));
    }
    const bob = researcherClient('bob'); // bob's earlier job had this very person set: the guard lets it through
    const same = await bob.run({ ...secureJob('=', { mode: 'none' }), secureMaxRows: 300 }).finally(() => bob.close());
    expect(same.error).toBeUndefined();
    expect(same.result!.rows).toEqual([{ count: 380 }]);
  });

  /** An intercept-only gaussian glm of bmi over the same neighbouring selections, under secagg. */
  const glmJob = (yearOp: '=' | '>=', privacy: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    kind: 'glm',
    product: 'person',
    family: 'gaussian',
    outcome: 'bmi',
    outcomeBounds: [0, 200],
    covariates: [],
    where: secureJob(yearOp, privacy).where,
    maxIterations: 2,
    privacy,
    secure: 'secagg',
    ...extra,
  });

  // Red team 26 (F2): glm's secureMaxRows was the researcher's, and an agent beyond it refused ("sent block … outside
  // its public bounds"): bisected, n read exactly. Negative control: on 31436ef the 301-row run failed every time.
  it('secure glm: 300 and 301 rows at an agent against secureMaxRows 300 both succeed (distributed-dp); in mode none the bound is the agreed one', async () => {
    for (const op of ['=', '>='] as const) {
      const r = await mesh.client.run(glmJob(op, { mode: 'distributed-dp', epsilon: 4, delta: 1e-6 }, { secureMaxRows: 300 }));
      expect(r.error, `${op}: ${r.error?.message}`).toBeUndefined();
      // Said whatever the data (red team 28): whether an agent was beyond the bound is not.
      expect(r.result!.notes.join(' ')).toMatch(/secureMaxRows 300: every agent projects each round's statistics onto their public bounds/);
    }
    const refuse = async (spec: Record<string, unknown>) => (await mesh.client.submitJob(spec).catch((e: unknown) => e)) as Error & { code: string; field?: string };
    const chosen = await refuse(glmJob('=', { mode: 'none' }, { secureMaxRows: 299 }));
    expect(chosen).toMatchObject({ code: 'INVALID_JOB', field: 'secureMaxRows' });
    expect(chosen.message).toMatch(/299 is not the agreed 300: in mode none/);
    const above = await refuse(glmJob('=', { mode: 'distributed-dp', epsilon: 4, delta: 1e-6 }, { secureMaxRows: 301 }));
    expect(above).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'secureMaxRows' });
    // Mode none without a bound: the agreed one is filled in and stored with the job.
    const carol = researcherClient('carol'); // carol's earlier job released this very person set: the guard lets it through
    try {
      const none = await carol.run(glmJob('>=', { mode: 'none' }));
      expect(none.error, none.error?.message).toBeUndefined();
      expect(none.spec).toMatchObject({ secureMaxRows: 300 });
    } finally {
      carol.close();
    }
  });

  it('the agent itself refuses a bound other than its published one in mode none, and above it in any mode, whatever the coordinator sends', async () => {
    const forge = async (secureMaxRows: number, privacy: Record<string, unknown>) => {
      const spec = { ...secureJob('=', privacy), secureMaxRows, where: [], timeoutMs: 10_000 };
      const task: AgentTask = { taskId: 't-forged', jobId: `j-forged-${secureMaxRows}`, kind: 'aggregate', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 1, researcher: 'researcher', payload: new Uint8Array() };
      const reply = await mesh.agents.get('a3')!.handleTask(task);
      expect(reply.ok).toBe(false);
      return reply.ok ? undefined : reply.error;
    };
    const probe = await forge(100, { mode: 'none' });
    expect(probe).toMatchObject({ code: 'INVALID_JOB', field: 'secureMaxRows' });
    expect(probe!.message).toMatch(/100 is not the agreed 300/);
    const above = await forge(301, { mode: 'distributed-dp', rho: 0.5 });
    expect(above).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'secureMaxRows' });
    // (the kind seam's agent check, node-agent/tasks/kind-task-runner.ts: distributed-dp with secagg runs there)
    expect(above!.message).toMatch(/above 300, the largest per-agent bound this agent agrees to/);
  });
});
