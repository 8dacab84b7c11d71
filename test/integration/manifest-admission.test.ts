import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

/**
 * Red-team finding (issue 15 items 2 and 5): a product manifest's `allowedPrivacyModes`, `allowedJobKinds` and
 * declared `bounds` are published in the catalogue, yet were checked only at the agent, after the coordinator
 * charged. Now the coordinator runs the agent's own check on the published copy at admission. Negative control:
 * without the fix each refused submission below is admitted, charged and fails QUORUM_NOT_MET
 * (/work/prompts/review/manifest-after-charge.test.ts).
 */
type Refusal = Error & { code: string; field?: string; details: { grpcStatus: string } };

describe('product manifest checked at admission, before charging', () => {
  let mesh: TestMesh;
  const base = { kind: 'aggregate', product: 'person', groupBy: [] };
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 'a1');
    await writePersonCsv(dir, makePersons(100, 41, 100_000));
    await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { person: { privacyUnit: 'person_id', bounds: { bmi: [10, 60] }, allowedPrivacyModes: ['none', 'central-dp'] } } }));
    await mesh.startAgent('a1', dir, { allowModes: ['none', 'central-dp', 'local-dp'], minCellSize: 5 });
    await mesh.waitForAgents(1);
  }, 120_000);
  afterAll(async () => mesh?.close());

  const refusal = (spec: unknown): Promise<Refusal | undefined> => mesh.client.submitJob(spec).then(() => undefined, (e: unknown) => e as Refusal);

  it('bounds wider than the declared bounds: INVALID_ARGUMENT naming the measure, the agent and the declared range; nothing charged', async () => {
    const before = await mesh.coordinator.budgetReport('researcher', false);
    const err = await refusal({ ...base, measures: [{ fn: 'mean', column: 'bmi', bounds: [0, 100] }], privacy: { mode: 'central-dp', epsilon: 1 } });
    expect(err?.code).toBe('INVALID_JOB');
    expect(err?.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(err?.field).toBe('measures[0].bounds');
    expect(err!.message).toMatch(/agent a1 would refuse it — a1: measures\[0\]\.bounds: \[0,100\] must lie within the bounds \[10, 60\] declared for column bmi of product person\. Nothing was charged/);
    expect(await mesh.coordinator.budgetReport('researcher', false)).toEqual(before);
  });

  it('a mode the manifest does not allow (the domain policy does): PERMISSION_DENIED naming the product; nothing charged', async () => {
    const before = await mesh.coordinator.budgetReport('researcher', false);
    const err = await refusal({ ...base, measures: [{ fn: 'count' }], privacy: { mode: 'local-dp', epsilon: 1 } });
    expect(err?.code).toBe('POLICY_DENIED');
    expect(err?.details.grpcStatus).toBe('PERMISSION_DENIED');
    expect(err!.message).toMatch(/a1: privacy\.mode: product person does not allow mode local-dp at this agent \(its manifest allows: none, central-dp\)/);
    expect(await mesh.coordinator.budgetReport('researcher', false)).toEqual(before);
  });

  it('control: bounds within the declared bounds and an allowed mode are admitted, answered and charged', async () => {
    const before = await mesh.coordinator.budgetReport('researcher', false);
    const job = await mesh.client.run({ ...base, measures: [{ fn: 'mean', column: 'bmi', bounds: [10, 60] }], privacy: { mode: 'central-dp', epsilon: 1 } });
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1']);
    expect(await mesh.coordinator.budgetReport('researcher', false)).not.toEqual(before);
  });
});
