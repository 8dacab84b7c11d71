import { createHmac } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/**
 * Issue 15 point 4 through a real mesh: sites a1, a2 and a4 declare the linkage key of their `visits` product, a3 does
 * not. The mesh assumes persons at up to 3 sites; a linkage-bounded job is planned for k across the mesh instead
 * (sensitivity k, not 3k), states it in its privacy block, and is refused when an asked site has no linkage key.
 */
const SECRET = 'test-only secret the sites share';
const key = (p: number): string => createHmac('sha256', SECRET).update(`national-id-${p}`).digest('hex');

async function writeSite(dir: string, persons: number[], linkageKey: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  const lines = ['person_id,link_key,x'];
  for (const p of persons) for (let r = 0; r < 3; r++) lines.push(`${p + 1000 * r},${key(p)},${(p % 7) + 1}`);
  await writeFile(join(dir, 'visits.csv'), lines.join('\n') + '\n');
  if (linkageKey) await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ version: 1, products: { visits: { privacyUnit: 'person_id', linkageKey: 'link_key' } } }));
}

describe('linkage-bounded aggregate jobs through a mesh', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3', 'a4'], maxSitesPerPerson: 3 });
    const persons = Array.from({ length: 90 }, (_, i) => i + 1);
    await writeSite(join(mesh.dir, 'data', 'a1'), persons.slice(0, 60), true);
    await writeSite(join(mesh.dir, 'data', 'a2'), persons.slice(30), true);
    await writeSite(join(mesh.dir, 'data', 'a3'), persons.slice(20, 50), false);
    await writeSite(join(mesh.dir, 'data', 'a4'), persons.slice(10, 40), true);
    for (const name of ['a1', 'a2', 'a3', 'a4']) await mesh.startAgent(name, join(mesh.dir, 'data', name), { allowModes: ['central-dp', 'local-dp', 'distributed-dp'], budgetCap: { epsilon: 100, delta: 1e-3 } });
    await mesh.waitForAgents(4);
  });
  afterAll(async () => mesh?.close());

  it('is planned for k across the mesh (sensitivity k, not maxSitesPerPerson × k) and says so in the privacy block', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'visits', agents: ['a1', 'a2'], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 2, linkage: {} } });
    expect(job.error).toBeUndefined();
    const p = job.result!.privacy as { guarantee: { maxSitesPerPerson: number; unit: string; crossSite: string; crossSiteBound: string }; mechanisms: { noise: { sensitivity: number } }[] };
    expect(p.mechanisms[0]!.noise.sensitivity).toBe(2);
    expect(p.guarantee.maxSitesPerPerson).toBe(1);
    expect(p.guarantee.crossSiteBound).toBe('linkage-key');
    expect(p.guarantee.unit).toMatch(/person across sites: at most k rows in total across the mesh, bound via the linkage key/);
    expect(p.guarantee.crossSite).toMatch(/unit: person across sites, bound k via linkage key.*of the job's 2 site/);
    // Negative control: the same job without linkage carries the mesh's assumption, 3 × k.
    const plain = await mesh.client.run({ kind: 'aggregate', product: 'visits', agents: ['a1', 'a2'], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 2 } });
    expect((plain.result!.privacy as { mechanisms: { noise: { sensitivity: number } }[] }).mechanisms[0]!.noise.sensitivity).toBe(6);
  });

  it('works the same inside secure aggregation (distributed-dp over secagg): stated unit and sensitivity k', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'visits', agents: ['a1', 'a2', 'a4'], secure: 'secagg', measures: [{ fn: 'count' }], privacy: { mode: 'distributed-dp', rho: 0.05, maxRowsPerPerson: 2, linkage: {} } });
    expect(job.error).toBeUndefined();
    // (the kind seam's statement, jobs/aggregate/distributed.ts: one mechanism per block, its L2 sensitivity)
    const p = job.result!.privacy as { guarantee: { maxSitesPerPerson: number; crossSiteBound: string }; mechanisms: { block: string; sensitivity: { l2: number } }[] };
    expect(p.guarantee.crossSiteBound).toBe('linkage-key');
    expect(p.guarantee.maxSitesPerPerson).toBe(1);
    expect(p.mechanisms[0]).toMatchObject({ block: 'count', sensitivity: { l2: 2 } });
  });

  it('is refused at admission with INVALID_JOB (gRPC INVALID_ARGUMENT) naming the sites without a linkage key', async () => {
    await expect(mesh.client.run({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, linkage: {} } })).rejects.toMatchObject({
      code: 'INVALID_JOB',
      field: 'privacy.linkage',
      message: expect.stringMatching(/privacy\.linkage: product visits has no linkageKey at 1 of the 4 sites the job would ask: a3;/),
    });
  });
});
