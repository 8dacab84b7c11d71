/**
 * The README's HE command (`fedmesh query … --secure he`, section "Secure aggregation and distributed DP") run as
 * written with the built CLI against a 3-agent mTLS mesh (the README mesh has 2 agents, so readme-commands skips it):
 * the client verifies every agent's binding against the spec it submitted under the mesh CA of `--tls-dir`, then
 * decrypts. And the refusal (red-team finding F2): without a mesh CA (`--insecure`) an HE job is refused before
 * anything is submitted, naming the option and how to supply it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, fedmesh } from '../helpers/fedmesh-cli.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const SITES = ['a1', 'a2', 'a3'];
const README_HE = ['query', '--product', 'person', '--count', '--histogram', 'year_of_birth:1930,1970,2010', '--group-by', 'gender_concept_id', '--group-keys', 'gender_concept_id=8507,8532', '--privacy', 'none', '--secure', 'he'];

describe('fedmesh query --secure he (README) verifies the agents against the submitted spec', () => {
  let mesh: TestMesh;
  let address: string;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: SITES });
    for (const [i, n] of SITES.entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, makePersons(50 + 10 * i, 40 + i, (i + 1) * 100_000));
      await mesh.startAgent(n, dir, { allowModes: ['none'], minCellSize: 5 });
    }
    await mesh.waitForAgents(3);
    address = `127.0.0.1:${mesh.server.port}`;
  }, 120_000);
  afterAll(async () => {
    await mesh?.close();
  });

  it('as written, over mTLS: decrypted by the client, equal to the plaintext job', async () => {
    const r = await fedmesh([...README_HE, '--coordinator', address, '--tls-dir', mesh.tlsDir, '--key-dir', join(mesh.dir, 'keys'), '--format', 'json'], 180_000);
    expect(r.stderr).not.toMatch(/refusing/);
    expect(r.code).toBe(0);
    const job = JSON.parse(r.stdout) as { status: string; rows: Record<string, unknown>[]; privacy: Record<string, unknown> };
    expect(job.status).toBe('succeeded');
    expect(job.privacy.decryptedBy).toBe('researcher client');
    const plain = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1930, 1970, 2010] }], groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, privacy: { mode: 'none' } });
    expect(plain.error).toBeUndefined();
    expect(job.rows).toEqual(JSON.parse(JSON.stringify(plain.result!.rows)));
  }, 240_000);

  it('without a mesh CA (--insecure) it is refused before submitting, naming meshCa and --tls-dir', async () => {
    const before = (await mesh.client.listJobs(1000)).length;
    const r = await fedmesh([...README_HE, '--coordinator', address, '--insecure', '--key-dir', join(mesh.dir, 'keys')], 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing to run an HE job: meshCa is not set/);
    expect(r.stderr).toMatch(/--tls-dir DIR/);
    expect((await mesh.client.listJobs(1000)).length).toBe(before);
  }, 120_000);
});
