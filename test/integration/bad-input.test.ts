import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

async function refused(p: Promise<unknown>): Promise<FedmeshError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error('expected the call to be refused');
}

describe('bad input is refused with a message naming the field, and nothing is stored', () => {
  let mesh: TestMesh;
  const ok = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    for (const [i, seed] of [11, 12].entries()) {
      const dir = join(mesh.dir, 'data', `s${i}`);
      await writePersonCsv(dir, makePersons(120, seed, i * 1000 + 1));
      await mesh.startAgent(`a${i + 1}`, dir);
    }
    await mesh.waitForAgents(2);
  });
  afterAll(async () => mesh?.close());

  // [name, spec, gRPC status, message]
  const cases: [string, unknown, string, RegExp][] = [
    ['malformed JSON', '{"kind": "aggregate",', 'INVALID_ARGUMENT', /malformed JSON/],
    ['unknown product (none of the connected agents serves it)', { ...ok, product: 'nope' }, 'NOT_FOUND', /product: no connected agent serves product nope/],
    ['unknown column', { ...ok, measures: [{ fn: 'mean', column: 'height', bounds: [0, 1] }] }, 'INVALID_ARGUMENT', /measures\[0\]\.column: unknown column height/],
    ['wrong type in a filter', { ...ok, where: [{ column: 'year_of_birth', op: '>=', value: 'old' }] }, 'INVALID_ARGUMENT', /where\[0\]\.value: column year_of_birth is BIGINT: expected a number/],
    ['empty bins', { ...ok, measures: [{ fn: 'histogram', column: 'year_of_birth', bins: [] }] }, 'INVALID_ARGUMENT', /measures\[0\]\.bins/],
    ['bounds reversed', { ...ok, measures: [{ fn: 'sum', column: 'year_of_birth', bounds: [2000, 1900] }] }, 'INVALID_ARGUMENT', /measures\[0\]\.bounds: lower bound 2000/],
    ['group by the privacy unit', { ...ok, groupBy: ['person_id'] }, 'PERMISSION_DENIED', /privacy unit person_id/],
    ['quorum above the agents serving', { ...ok, quorum: 3 }, 'INVALID_ARGUMENT', /quorum: 3 agents required but only 2/],
    ['agent not connected', { ...ok, agents: ['ghost'] }, 'INVALID_ARGUMENT', /agents\[0\]: agent ghost is not connected/],
  ];

  it.each(cases)('%s', async (_name, spec, code, message) => {
    const before = (await mesh.client.listJobs(1000)).length;
    const err = await refused(mesh.client.submitJob(spec));
    expect(err.details.grpcStatus).toBe(code);
    expect(err.message).toMatch(message);
    expect((await mesh.client.listJobs(1000)).length).toBe(before);
  });

  it.each([
    ['rowLevels', [8507], [8507, 8532]],
    ['colLevels', [8507, 8532], [8532]],
  ])('a DP contingency job with a single level in %s is INVALID_ARGUMENT before admission: no job, no charge', async (field, rowLevels, colLevels) => {
    const spec = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels, colLevels, privacy: { mode: 'central-dp', epsilon: 0.5, delta: 1e-6 } };
    const budgetBefore = await mesh.client.getBudget();
    const jobsBefore = (await mesh.client.listJobs(1000)).length;
    const err = await refused(mesh.client.submitJob(spec));
    expect(err.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(new RegExp(`${field}: must list at least 2 levels`));
    expect((await mesh.client.listJobs(1000)).length).toBe(jobsBefore);
    expect(await mesh.client.getBudget()).toEqual(budgetBefore);
  });

  it.each([
    ['a string level on an integer column', { rowLevels: ['8507', 8532] }, /rowLevels\[0\]: must be an integer \(column "gender_concept_id" is [A-Z]+\)/],
    ['a fractional level on an integer column', { colLevels: [8507, 8532.5] }, /colLevels\[1\]: must be an integer/],
    ['a JSON boolean level', { colLevels: [true, false] }, /colLevels\[0\]: must be a string or a number/],
  ])('a DP contingency job with %s is INVALID_ARGUMENT at admission, before the agents: no job, no charge (red team 8, F3)', async (_name, over, message) => {
    const spec = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], privacy: { mode: 'central-dp', epsilon: 0.5, delta: 1e-6 }, ...over };
    const budgetBefore = await mesh.client.getBudget();
    const jobsBefore = (await mesh.client.listJobs(1000)).length;
    const err = await refused(mesh.client.submitJob(spec));
    expect(err.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(message);
    expect((await mesh.client.listJobs(1000)).length).toBe(jobsBefore);
    expect(await mesh.client.getBudget()).toEqual(budgetBefore);
  });

  it('the servers keep working after all of that', async () => {
    const job = await mesh.client.run(ok);
    expect(job.state).toBe('succeeded');
    expect(job.result!.rows[0]!.count).toBe(240);
  });

  it('a mode an agent does not allow is refused with PERMISSION_DENIED at submission, naming the agent; nothing charged', async () => {
    const dir = join(mesh.dir, 'data', 'strict');
    await writePersonCsv(dir, makePersons(50, 99, 90_001));
    await mesh.startAgent('a3', dir, { allowModes: ['central-dp'] });
    await mesh.waitForAgents(3);
    // a3 publishes its policy at registration: under the default quorum (all must answer) the coordinator refuses
    // now, instead of asking a3 after admission only to fail QUORUM_NOT_MET (issue 15, public-information refusals).
    const jobsBefore = (await mesh.client.listJobs(1000)).length;
    const budgetBefore = await mesh.client.getBudget();
    const both = await refused(mesh.client.submitJob({ ...ok, agents: ['a1', 'a3'] }));
    expect(both.code).toBe('POLICY_DENIED');
    expect(both.details.grpcStatus).toBe('PERMISSION_DENIED');
    expect(both.message).toMatch(/agent a3 would refuse it — a3: privacy mode none is not allowed by this domain/);
    expect((await mesh.client.listJobs(1000)).length).toBe(jobsBefore);
    expect(await mesh.client.getBudget()).toEqual(budgetBefore);
    // The agent itself still refuses a task in that mode (its own check, whatever the coordinator says).
    const local = await mesh.agents.get('a3')!.handleTask({ taskId: 't-direct', jobId: 'j-direct', kind: 'aggregate', specJson: JSON.stringify({ ...ok, where: [], groupBy: [] }), deadlineMs: Date.now() + 10_000, round: 0, researcher: 'direct', payload: new Uint8Array() });
    expect(!local.ok && local.error).toMatchObject({ code: 'POLICY_DENIED', field: 'privacy.mode' });
    const direct = await refused(mesh.client.submitJob({ ...ok, agents: ['a3'] }));
    expect(direct.code).toBe('POLICY_DENIED');
    expect(direct.details.grpcStatus).toBe('PERMISSION_DENIED');
    await mesh.stopAgent('a3');
  });

  it('an unknown job id is NOT_FOUND', async () => {
    const err = await refused(mesh.client.getJob('does-not-exist'));
    expect(err.code).toBe('NOT_FOUND');
  });
});
