import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/** Issue 15 item 4: the coordinator's mesh-wide maxSitesPerPerson reaches the plan (agents and coordinator) and the result. */
describe('mesh-wide maxSitesPerPerson', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'], maxSitesPerPerson: 3 });
    for (const [i, name] of ['a1', 'a2', 'a3'].entries()) {
      const dir = join(mesh.dir, 'data', name);
      await writePersonCsv(dir, makePersons(100, 200 + i, (i + 1) * 100_000));
      await mesh.startAgent(name, dir, { allowModes: ['central-dp', 'local-dp'], budgetCap: { epsilon: 100, delta: 1e-3 } });
    }
    await mesh.waitForAgents(3);
  });
  afterAll(async () => mesh?.close());

  it('a count job stated with the default (1) is planned and stated with 3: noise std 3× that of sensitivity 1', async () => {
    for (const mode of ['central-dp', 'local-dp'] as const) {
      const job = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode, epsilon: 1, delta: 1e-6 } });
      expect(job.error, mode).toBeUndefined();
      const p = job.result!.privacy as { guarantee: { maxSitesPerPerson: number; unit: string }; mechanisms: { noise: { sensitivity: number } }[] };
      expect(p.guarantee.maxSitesPerPerson).toBe(3);
      expect(p.guarantee.unit).toMatch(/at most 3 sites/);
      expect(p.mechanisms[0]!.noise.sensitivity).toBe(3);
    }
  });

  it('a job cannot lower it (it is raised to the mesh value), and may raise it', async () => {
    const low = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxSitesPerPerson: 1 } });
    expect((low.result!.privacy as { guarantee: { maxSitesPerPerson: number } }).guarantee.maxSitesPerPerson).toBe(3);
    const high = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxSitesPerPerson: 5 } });
    expect((high.result!.privacy as { mechanisms: { noise: { sensitivity: number } }[] }).mechanisms[0]!.noise.sensitivity).toBe(5);
  });
});
