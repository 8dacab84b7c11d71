import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gibleedDir } from '../reference/circe-reference.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/**
 * Red-team finding (issue 15 items 2 and 5): the coordinator's parser accepted any safe integer for characterize
 * windows, survival grids and age band edges, while the agent refused beyond ±36,600 window days, 73,200 follow-up
 * days and age edge 1000 — after the charge. One validator (common/job/cell-limits.ts) now serves both. Negative
 * control: without it each refused spec below is admitted, charged and fails at the agent
 * (/work/prompts/review/cell-limits-after-charge.test.ts).
 */
type Refusal = Error & { code: string; field?: string; details: { grpcStatus: string } };

const gi = { name: 'GI', entry: { domain: 'condition', concepts: { include: [{ conceptId: 192671 }] }, occurrence: 'first' } };
const privacy = { mode: 'central-dp', epsilon: 1, delta: 1e-6 };
const characterize = { kind: 'characterize', definition: gi, conditionConcepts: [192671], drugConcepts: [], privacy, timeoutMs: 60_000 };
const survival = { kind: 'survival', target: gi, outcome: { definition: gi }, privacy, timeoutMs: 60_000 };

const noData = !existsSync(gibleedDir);
if (noData) console.warn(`[cell-limits-admission] SKIPPING: GiBleed (${gibleedDir}) not found (../shared/data is absent)`);

describe.skipIf(noData)('cell-job parameter limits: the same at the coordinator and the agent', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 'a1');
    await mkdir(dir, { recursive: true });
    for (const t of ['person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'death']) await copyFile(join(gibleedDir, `${t}.csv`), join(dir, `${t}.csv`)).catch(() => undefined);
    await mesh.startAgent('a1', dir, { allowModes: ['none', 'central-dp'], minCellSize: 5 });
    await mesh.waitForAgents(1);
  }, 180_000);
  afterAll(async () => mesh?.close());

  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['window start beyond −36,600 days', { ...characterize, windowDays: [-40000, 0] }, 'windowDays[0]', /must be an integer in \[-36600, 36600\], got -40000/],
    ['window end beyond 36,600 days', { ...characterize, windowDays: [0, 36601] }, 'windowDays[1]', /must be an integer in \[-36600, 36600\]/],
    ['age band edge above 1000', { ...characterize, ageBands: [0, 18, 1001] }, 'ageBands[2]', /must be an integer in \[0, 1000\], got 1001/],
    ['follow-up beyond 73,200 days', { ...survival, timeGrid: { binDays: 200, maxDays: 80000 } }, 'timeGrid.maxDays', /must be an integer in \[1, 73200\], got 80000/],
  ];
  for (const [what, spec, field, message] of cases) {
    it(`${what}: INVALID_ARGUMENT naming ${field} before admission; nothing charged`, async () => {
      const before = await mesh.coordinator.budgetReport('researcher', false);
      const err = await mesh.client.submitJob(spec).then(() => undefined, (e: unknown) => e as Refusal);
      expect(err?.details.grpcStatus).toBe('INVALID_ARGUMENT');
      expect(err?.field).toBe(field);
      expect(err!.message).toMatch(message);
      expect(await mesh.coordinator.budgetReport('researcher', false)).toEqual(before);
    });
  }

  it('control: the largest window and follow-up both sides accept are admitted, answered by the agent and charged', async () => {
    const before = await mesh.coordinator.budgetReport('researcher', false);
    const c = await mesh.client.run({ ...characterize, windowDays: [-36600, 36600], ageBands: [0, 50, 1000] });
    expect(c.error).toBeUndefined();
    expect(c.agents.answered).toEqual(['a1']);
    const s = await mesh.client.run({ ...survival, timeGrid: { binDays: 200, maxDays: 73200 } });
    expect(s.error).toBeUndefined();
    expect(s.agents.answered).toEqual(['a1']);
    expect(await mesh.coordinator.budgetReport('researcher', false)).not.toEqual(before);
  }, 120_000);
});
