import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEDMESH_VERSION, type AgentRegistration } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import type { AgentLink } from '../../node-agent/transport/link.js';
import { startFakeAgent } from '../helpers/fake-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

/**
 * Issue 8 item 14: an agent that registers a stripped `person` product (valid certificate, real AgentLink stream)
 * must not make every job on `person` fail: admission leaves it out and says why.
 */
async function refused(p: Promise<unknown>): Promise<FedmeshError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof FedmeshError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
}

const fake = (name: string, products: AgentRegistration['products']): AgentRegistration => ({
  name, domain: name, version: FEDMESH_VERSION, policy: { minCellSize: 10, allowModes: ['none', 'central-dp'], allowKinds: ['aggregate', 'cohort'] }, products,
});

describe('a hostile agent cannot block a product (issue 8 item 14)', () => {
  let mesh: TestMesh;
  const links: AgentLink[] = [];
  let tasksToFakes = 0;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    for (const [i, rows] of [makePersons(200, 1, 1), makePersons(150, 2, 10_001)].entries()) {
      const dir = join(mesh.dir, 'data', `site-${i + 1}`);
      await writePersonCsv(dir, rows);
      await mesh.startAgent(`a${i + 1}`, dir);
    }
    await mesh.waitForAgents(2);
    const answer = async (t: { taskId: string }): Promise<never> => {
      tasksToFakes++;
      throw new Error(`a fake agent got task ${t.taskId}`);
    };
    // Only person_id: every column a job reads is missing.
    links.push(await startFakeAgent(mesh, fake('a4', [{ name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }], privacyUnit: 'person_id', description: '', metadata: {} },
      { name: 'observation_period', columns: [{ name: 'person_id', type: 'BIGINT' }], privacyUnit: 'person_id', description: '', metadata: {} }]), answer));
    // The right columns with the wrong types.
    links.push(await startFakeAgent(mesh, fake('a3', [{ name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'gender_concept_id', type: 'BIGINT' }, { name: 'year_of_birth', type: 'VARCHAR' }], privacyUnit: 'person_id', description: '', metadata: {} }]), answer));
    await mesh.waitForAgents(4);
  }, 60_000);
  afterAll(async () => {
    for (const l of links) l.stop();
    await mesh?.close();
  });

  it('jobs on person run on the agents that can serve them; the stripped and mistyped ones are reported in agents.missing with the reason', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', where: [{ column: 'year_of_birth', op: '>=', value: 1900 }], groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    expect(job.agents.asked).toEqual(['a1', 'a2']);
    expect(job.agents.answered).toEqual(['a1', 'a2']);
    expect(job.agents.missing).toEqual(['a3', 'a4']);
    expect(job.result!.rows.reduce((s, r) => s + (r.count as number), 0)).toBe(350);
    const reasons = Object.fromEntries(job.result!.agentsMissing!.map((m) => [m.agent, m.reason]));
    expect(reasons.a4).toMatch(/INVALID_JOB: where\[0\]\.column: unknown column year_of_birth in product person/);
    expect(reasons.a3).toMatch(/INVALID_JOB: where\[0\]\.value: column year_of_birth is VARCHAR: expected a string/);
    expect(tasksToFakes).toBe(0);
  });

  it('if no agent can serve the job, it is refused with a clear error naming the agents', async () => {
    const only = await refused(mesh.client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, agents: ['a4'] }));
    expect(only.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(only.message).toMatch(/groupBy\[0\]: unknown column gender_concept_id in product person .*\(at agent a4\)/);
    // A cohort job: a4 is the only agent registering the OMOP core tables, and they lack what a cohort reads.
    const cohort = await refused(mesh.client.submitJob({ kind: 'cohort', definition: { name: 'x', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } }, inclusionRules: [] }, privacy: { mode: 'none' } }));
    expect(cohort.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(cohort.message).toMatch(/OMOP table person lacks gender_concept_id, year_of_birth.*\(at agent a4\)/);
    expect(tasksToFakes).toBe(0);
  });
});
