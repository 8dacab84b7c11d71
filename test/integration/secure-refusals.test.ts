import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FedmeshError } from '../../common/errors.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { importClosure } from '../helpers/import-closure.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('secure jobs that must be refused', () => {
  let mesh: TestMesh;
  const job = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, secure: 'secagg' };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'], insecure: true });
    for (const i of [1, 2, 3]) {
      const dir = join(mesh.dir, 'data', `s${i}`);
      await writePersonCsv(dir, makePersons(50, i, i * 1000));
      await mesh.startAgent(`a${i}`, dir, { allowModes: ['none', 'central-dp', 'distributed-dp'] });
    }
    await mesh.waitForAgents(3);
  });
  afterAll(async () => mesh?.close());

  it('a mesh running --insecure refuses secure jobs with a clear message', async () => {
    const secagg = (await mesh.client.submitJob(job).catch((e: unknown) => e)) as FedmeshError;
    // HE through the client, which makes a key pair first (in a throwaway folder).
    const he = (await mesh.client.run({ ...job, secure: 'he' }, undefined, { keyDir: join(mesh.dir, 'keys') }).catch((e: unknown) => e)) as FedmeshError;
    expect(secagg.code).toBe('FAILED_PRECONDITION');
    expect(secagg.message).toMatch(/needs every agent's identity key vouched for by its mTLS certificate.*secure jobs are refused without mTLS/);
    // HE is refused earlier, by the client: without mTLS it has no mesh CA to verify the agents' bindings (F2).
    expect(he.code).toBe('FAILED_PRECONDITION');
    expect(he.field).toBe('meshCa');
    expect(he.message).toMatch(/refusing to run an HE job: meshCa is not set/);
  });

  it('secure jobs need public group keys, a secure-capable mode and a sane threshold', async () => {
    const refuse = async (spec: Record<string, unknown>): Promise<string> => ((await mesh.client.submitJob(spec).catch((e: unknown) => e)) as Error).message;
    expect(await refuse({ ...job, groupBy: ['gender_concept_id'] })).toMatch(/groupKeys: secure aggregation needs a fixed public layout/);
    expect(await refuse({ ...job, privacy: { mode: 'central-dp', epsilon: 1 } })).toMatch(/secure aggregation supports modes none and distributed-dp/);
    expect(await refuse({ ...job, secureThreshold: 1 })).toMatch(/secureThreshold/);
    expect(await refuse({ ...job, secure: undefined, secureMaxRows: 5 })).toMatch(/secureMaxRows: applies to secure jobs only/);
    expect(await refuse({ ...job, privacy: { mode: 'distributed-dp', epsilon: 1, delta: 0 } })).toMatch(/distributed-dp adds discrete Gaussian shares/);
  });

  it('secureMaxRows is refused only from public information: the agents\' published maximum, and in mode none their agreed value', async () => {
    const refuse = async (spec: Record<string, unknown>) => (await mesh.client.submitJob(spec).catch((e: unknown) => e)) as FedmeshError;
    // The agents publish the default maximum (2^24) and minimum cell size 10; neither refusal reads any data.
    const above = await refuse({ ...job, privacy: { mode: 'distributed-dp', rho: 0.5 }, secureMaxRows: 2 ** 24 + 1 });
    expect(above.code).toBe('FAILED_PRECONDITION');
    expect(above.message).toMatch(/secureMaxRows: 16777217 is above 16777216, the largest per-agent bound agent a\d agrees to/);
    const chosen = await refuse({ ...job, secureMaxRows: 9 });
    expect(chosen.code).toBe('INVALID_JOB');
    expect(chosen.message).toMatch(/secureMaxRows: 9 is not the agreed 16777216: in mode none/);
  });

  it("the coordinator's code cannot reach HE key generation or decryption", () => {
    const closure = importClosure(join(REPO, 'coordinator', 'index.ts'), REPO);
    expect(closure).toContain('coordinator/secure/he-job.ts');
    expect(closure.filter((f) => /common\/he\/(keys|decrypt|index)\.ts$/.test(f) || f.startsWith('client/') || f.startsWith('node-agent/'))).toEqual([]);
  });
});
