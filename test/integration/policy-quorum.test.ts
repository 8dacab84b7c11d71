import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

/**
 * Red-team finding (issue 15 items 2 and 5): an agent's published policy (`allowModes`) was checked only at the
 * agent, after the coordinator charged; with the default quorum every such job failed QUORUM_NOT_MET, charged.
 * Now it is checked per agent at admission. Negative control: without the fix, the refused submissions are
 * admitted, charged and fail (the repro in /work/prompts/review/policy-quorum.test.ts).
 */
type Refusal = Error & { code: string; field?: string; details: { grpcStatus: string } };

describe('agent policy checked at admission, before charging', () => {
  let mesh: TestMesh;
  const dpCount = { kind: 'aggregate', product: 'person', groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } };
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    for (const [i, n] of ['a1', 'a2'].entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, makePersons(100, 40 + i, (i + 1) * 100_000));
      await mesh.startAgent(n, dir, { allowModes: n === 'a1' ? ['none', 'central-dp'] : ['none'], minCellSize: 5 });
    }
    await mesh.waitForAgents(2);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('default quorum: a job one agent’s published policy refuses is refused at submission, naming the agent and the rule; nothing charged', async () => {
    const before = await mesh.coordinator.budgetReport('researcher', false);
    for (let i = 0; i < 3; i++) {
      const err = await mesh.client.submitJob(dpCount).then(() => undefined, (e: unknown) => e as Refusal);
      expect(err?.code).toBe('POLICY_DENIED');
      expect(err?.details.grpcStatus).toBe('PERMISSION_DENIED');
      expect(err!.message).toMatch(/agent a2 would refuse it — a2: privacy mode central-dp is not allowed by this domain \(allowed: none\)\. Nothing was charged/);
    }
    expect(await mesh.coordinator.budgetReport('researcher', false)).toEqual(before);
  });

  it('explicit quorum 1: the refusing agent is left out at admission and reported; the job runs and is charged (control)', async () => {
    const before = await mesh.coordinator.budgetReport('researcher', false);
    const job = await mesh.client.run({ ...dpCount, quorum: 1 });
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1']);
    expect(job.result!.complete).toBe(false);
    expect(job.result!.agentsMissing).toEqual([{ agent: 'a2', reason: expect.stringMatching(/^POLICY_DENIED: privacy mode central-dp is not allowed by this domain/) }]);
    expect(await mesh.coordinator.budgetReport('researcher', false)).not.toEqual(before);
  });

  it('a mode both agents allow is admitted at both (control)', async () => {
    const job = await mesh.client.run({ ...dpCount, privacy: { mode: 'none' } });
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1', 'a2']);
  });
});
