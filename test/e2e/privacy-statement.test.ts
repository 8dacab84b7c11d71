import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');

async function fedmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
};
const dp = { mode: 'central-dp', epsilon: 1, delta: 1e-6 };
const specs: Record<string, Record<string, unknown>> = {
  cohort: { kind: 'cohort', definition: diabetes, privacy: dp },
  characterize: { kind: 'characterize', definition: diabetes, conditionConcepts: [320128], drugConcepts: [1503297], privacy: dp },
  survival: { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, privacy: dp },
  contingency: { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516], privacy: dp },
};

/** Issue 15 item 7 and issue 14 item 8: every DP result says what it guarantees; `fedmesh budget` shows remaining ρ. */
describe('the privacy statement of DP cohort-level results, as the CLI prints it', () => {
  let mesh: TestMesh;
  let conn: string[];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: ['s1', 's2', 's3'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 3, persons: 300, seed: 7, format: 'parquet' });
    const policy = { allowModes: ['none' as const, 'central-dp' as const, 'local-dp' as const], minCellSize: 1, budgetCap: { epsilon: 100, delta: 1e-3 } };
    for (const [i, s] of synth.sites.entries()) await mesh.startAgent(`s${i + 1}`, s.dir, policy);
    await mesh.waitForAgents(3, 60_000);
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 100, 1e-3);
    admin.close();
    conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
    for (const [kind, spec] of Object.entries(specs)) await writeFile(join(mesh.dir, `${kind}.json`), JSON.stringify(spec));
  }, 180_000);
  afterAll(async () => mesh?.close());

  for (const kind of Object.keys(specs)) {
    it(`\`fedmesh ${kind}\` in central-dp: no "undefined", and unit, k, maxSitesPerPerson, mechanism, ε/δ/ρ, colluders and coordinator view all stated`, async () => {
      const r = await fedmesh([kind, join(mesh.dir, `${kind}.json`), ...conn]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/undefined|NaN|not stated/);
      expect(r.stdout).toMatch(/privacy: central-dp; spent ε=1 at δ=0\.000001 \(ρ=[0-9.e-]+ zCDP\)/);
      expect(r.stdout).toMatch(/protects: a person/);
      expect(r.stdout).toMatch(/bound: k = 1 row\(s\) per person per site; maxSitesPerPerson = 1/);
      expect(r.stdout).toMatch(/mechanism: discrete-(gaussian|laplace) \(/);
      expect(r.stdout).toMatch(/colluders tolerated: /);
      expect(r.stdout).toMatch(/coordinator sees: /);
      expect(r.stdout).toMatch(/composition: jobs compose in zCDP/);
    }, 120_000);
  }

  it('`fedmesh budget` shows remaining ρ and the largest next job: a job of 0.98 × that ε is admitted, 1.05 × is refused', async () => {
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('alice', { population: 'person' }, 1, 1e-6);
    admin.close();
    const job = (epsilon: number): Record<string, unknown> => ({ ...specs.contingency, privacy: { mode: 'central-dp', epsilon, delta: 1e-6 } });
    await writeFile(join(mesh.dir, 'first.json'), JSON.stringify(job(0.73)));
    expect((await fedmesh(['contingency', join(mesh.dir, 'first.json'), ...conn, '--name', 'alice'])).code).toBe(0);
    const r = await fedmesh(['budget', ...conn, '--name', 'alice']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/undefined|NaN/);
    expect(r.stdout).toMatch(/their ρ add up/);
    const m = /alice × population person \(covers [^)]*\): .*spent ρ=[0-9.]+ \(ε=([0-9.]+) at δ=0\.000001\) in 1 job\(s\); remaining ρ=[0-9.]+: the next job may spend up to ε=([0-9.]+) at δ=0\.000001/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [spentEpsilon, next] = [Number(m![1]), Number(m![2])];
    // "budget ε − spent ε" would say 0.27; zCDP composition leaves room for more (ε is concave in ρ).
    expect(spentEpsilon).toBeCloseTo(0.73, 3);
    expect(next).toBeGreaterThan(1 - spentEpsilon);
    await writeFile(join(mesh.dir, 'too-big.json'), JSON.stringify(job(next * 1.05)));
    const refused = await fedmesh(['contingency', join(mesh.dir, 'too-big.json'), ...conn, '--name', 'alice']);
    expect(refused.code, refused.stdout).not.toBe(0);
    expect(refused.stderr).toMatch(/budget/i);
    await writeFile(join(mesh.dir, 'fits.json'), JSON.stringify(job(next * 0.98)));
    const fits = await fedmesh(['contingency', join(mesh.dir, 'fits.json'), ...conn, '--name', 'alice']);
    expect(fits.code, fits.stderr).toBe(0);
  }, 120_000);
});
