/**
 * Registry kinds (glm here; survival-cox takes the same path) under the access policies, over the real transport:
 * the coordinator's mesh-wide Cedar policy is pre-checked at submission (refused with the policy id, nothing stored
 * or charged), and each agent's Cedar policy is decided before its ledger is charged (a refusing agent charges
 * nothing; the job names the agent and the policy). Tasks handed to an agent in-process cannot skip the identity check.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { compileAccessPolicy } from '../../common/policy/index.js';
import { compileKindJob, encodeRoundPayload } from '../../common/kinds/index.js';
import { KINDS } from '../../jobs/kinds.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makeStudyRows, studySpec, writeStudy } from '../helpers/glm-data.js';

const MESH_POLICY = `@id("mesh-glm-epsilon-cap")
forbid (principal, action == Fedmesh::Action::"glm", resource) when { context.epsilon.greaterThan(decimal("2.0")) };
@id("mesh-open")
permit (principal, action, resource);
`;
// a1 refuses glm jobs of the researcher named "researcher", and glm jobs for clinical trial research; else open.
const A1_POLICY = `@id("a1-no-glm-for-researcher")
forbid (principal, action == Fedmesh::Action::"glm", resource) when { principal.name == "researcher" };
@id("a1-no-glm-for-clintrch")
forbid (principal, action == Fedmesh::Action::"glm", resource) when { context.purpose == "CLINTRCH" };
@id("a1-open")
permit (principal, action, resource);
`;
const dp = { privacy: { mode: 'central-dp', epsilon: 0.5, delta: 1e-6 } };

describe('access policies for registry kinds', () => {
  let mesh: TestMesh;
  let alice: CoordinatorClient;
  const lines: { event: string; fields: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'], accessPolicy: await compileAccessPolicy(MESH_POLICY, 'mesh.cedar'), coordinatorLog: (event, fields = {}) => lines.push({ event, fields }) });
    await writeFile(join(mesh.dir, 'a1.cedar'), A1_POLICY);
    for (const [i, n] of ['a1', 'a2'].entries()) await writeStudy(join(mesh.dir, 'data', n), makeStudyRows(600, `policy-${n}`, (i + 1) * 100_000));
    const rules = { allowModes: ['none' as const, 'central-dp' as const], allowKinds: ['aggregate', 'glm'] };
    await mesh.startAgent('a1', join(mesh.dir, 'data', 'a1'), rules, { accessPolicy: { file: join(mesh.dir, 'a1.cedar') } });
    await mesh.startAgent('a2', join(mesh.dir, 'data', 'a2'), rules);
    await mesh.waitForAgents(2);
    alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
  }, 120_000);
  afterAll(async () => {
    alice?.close();
    await mesh?.close();
  });

  const spend = (agent: string, who: string): Promise<unknown> => mesh.agents.get(agent)!.privacyLedger.spend(who);

  it("an agent's policy refuses a glm job before its ledger: PERMISSION_DENIED naming the policy, the job names the agent, nothing charged there", async () => {
    const before = await spend('a1', 'researcher');
    const job = await mesh.client.run(studySpec('binomial', dp));
    expect(job.state).toBe('failed');
    expect(job.error?.message).toMatch(/a1: POLICY_DENIED: the domain policy of a1 refuses this job: forbidden by policy a1-no-glm-for-researcher \(a1\.cedar:1\)/);
    expect(await spend('a1', 'researcher')).toEqual(before);
    // Negative control: another researcher's same job runs at both agents and is charged at a1.
    const aliceBefore = await spend('a1', 'alice');
    const ok = await alice.run(studySpec('binomial', dp));
    expect(ok.error).toBeUndefined();
    expect(ok.agents.answered).toEqual(['a1', 'a2']);
    expect(await spend('a1', 'alice')).not.toEqual(aliceBefore);
  }, 120_000);

  it("a glm job's purpose reaches each agent's policy, and its project is charged to the project's budget", async () => {
    // Room in alice's own budget for the jobs below (each DP job also spends δ = 1e-6).
    await mesh.coordinator.setBudget('admin', true, 'alice', { population: 'person' }, { epsilon: 50, delta: 1e-3 });
    const before = await spend('a1', 'alice');
    const refused = await alice.run({ ...studySpec('binomial', dp), purpose: 'CLINTRCH', project: 'IRB-77' });
    expect(refused.state).toBe('failed');
    expect(refused.error?.message).toMatch(/a1: POLICY_DENIED: .*forbidden by policy a1-no-glm-for-clintrch/);
    expect(await spend('a1', 'alice')).toEqual(before);
    // Negative control: the same job for HRESCH runs; the coordinator's ledger counts it against project IRB-77.
    const ok = await alice.run({ ...studySpec('binomial', dp), purpose: 'HRESCH', project: 'IRB-77' });
    expect(ok.error).toBeUndefined();
    const projects = (await mesh.coordinator.ledger.projectReport(undefined)).filter((e) => e.project === 'IRB-77');
    expect(projects.map((e) => e.jobs).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    // A project budget just above what it spent (ε ≈ 0.42 at δ = 1e-3): the next job of the project does not fit and is
    // refused before any agent computes.
    await mesh.coordinator.setProjectBudget('admin', true, 'IRB-77', { population: projects[0]!.population }, { epsilon: 0.45, delta: 1e-3 });
    const a1Before = await spend('a1', 'alice');
    const err = await alice.submitJob({ ...studySpec('binomial', dp), project: 'IRB-77' }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/privacy budget exhausted for project IRB-77/);
    expect(await spend('a1', 'alice')).toEqual(a1Before);
    // Another project is not limited by IRB-77's budget.
    expect((await alice.run({ ...studySpec('binomial', dp), project: 'IRB-78' })).error).toBeUndefined();
  }, 120_000);

  it('the mesh policy refuses a glm job at submission, naming the policy; nothing is charged anywhere', async () => {
    const before = [await spend('a1', 'alice'), await spend('a2', 'alice')];
    const err = await alice.submitJob(studySpec('binomial', { privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-6 } })).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/the mesh policy refuses this job at agent a\d: forbidden by policy mesh-glm-epsilon-cap \(mesh\.cedar:1\)\. Nothing was charged/);
    expect(lines.some((l) => l.event === 'job-rejected' && l.fields.kind === 'glm' && JSON.stringify(l.fields.policyIds) === '["mesh-glm-epsilon-cap"]')).toBe(true);
    expect([await spend('a1', 'alice'), await spend('a2', 'alice')]).toEqual(before);
  }, 60_000);

  it('in-process tasks: no caller-supplied identity; an agent with a policy refuses a task without a valid signed assertion', async () => {
    const spec = JSON.stringify({ kind: 'aggregate', product: 'study', groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    // (on the kind seam: the task carries the compiled job's hash)
    const task = { taskId: 't-in', jobId: 'j-in', kind: 'aggregate', specJson: spec, deadlineMs: Date.now() + 20_000, round: 0, researcher: 'alice', payload: encodeRoundPayload({ hash: compileKindJob(KINDS.get('aggregate')!, JSON.parse(spec)).hash, input: null }) };
    const unsigned = await mesh.agents.get('a1')!.handleTask(task);
    expect(unsigned).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED', field: 'identity_assertion' } });
    const forged = await mesh.agents.get('a1')!.handleTask({ ...task, identityAssertion: `${Buffer.from(JSON.stringify({ v: 1, researcher: 'alice' })).toString('base64url')}.AAAA` });
    expect(forged).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    // Control: an agent without an access policy runs the same task (today's rules do not depend on identity).
    expect(await mesh.agents.get('a2')!.handleTask(task)).toMatchObject({ ok: true });
  }, 60_000);
});
