import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';

const TABLES = ['person', 'observation_period', 'visit_occurrence', 'condition_occurrence', 'drug_exposure', 'measurement', 'death'];
const VOCAB = ['concept', 'concept_ancestor'];

/** Writes the union of the sites' tables into one folder: the pooled data set. */
async function pool(siteDirs: string[], out: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    for (const t of TABLES) {
      const files = siteDirs.map((d) => `'${join(d, `${t}.parquet`)}'`).join(', ');
      await conn.run(`COPY (SELECT * FROM read_parquet([${files}]) ORDER BY 1) TO '${join(out, `${t}.parquet`)}' (FORMAT parquet)`);
    }
    for (const t of VOCAB) await conn.run(`COPY (SELECT * FROM read_parquet('${join(siteDirs[0]!, `${t}.parquet`)}')) TO '${join(out, `${t}.parquet`)}' (FORMAT parquet)`);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }],
};

describe('cohort, survival, characterisation and contingency jobs on synthetic OMOP sites', () => {
  let mesh: TestMesh;
  const sites = ['s1', 's2', 's3'];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: [...sites, 'pool'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 3, persons: 700, seed: 5, format: 'parquet' });
    const dirs = synth.sites.map((s) => s.dir);
    await pool(dirs, join(mesh.dir, 'pooled'));
    const policy = { allowModes: ['none' as const, 'central-dp' as const, 'local-dp' as const], minCellSize: 1, budgetCap: { epsilon: 100, delta: 1e-3 } };
    for (const [i, d] of dirs.entries()) await mesh.startAgent(sites[i]!, d, policy);
    await mesh.startAgent('pool', join(mesh.dir, 'pooled'), policy);
    await mesh.waitForAgents(4, 60_000);
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 100, 1e-3);
    admin.close();
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('a native cohort: federated counts, breakdowns and attrition equal the pooled site', async () => {
    const fed = await mesh.client.run({ kind: 'cohort', definition: diabetes, privacy: { mode: 'none' }, agents: sites });
    const pooled = await mesh.client.run({ kind: 'cohort', definition: diabetes, privacy: { mode: 'none' }, agents: ['pool'] });
    expect(fed.error).toBeUndefined();
    const f = fed.result!.summary!;
    const p = pooled.result!.summary!;
    expect(f.count).toBeGreaterThan(50);
    for (const k of ['count', 'entries', 'byAgeBand', 'byGender', 'attrition']) expect(f[k], k).toEqual(p[k]);
    expect((f.byAgent as { persons: number }[]).reduce((a, b) => a + b.persons, 0)).toBe(f.count);
  });

  it('Kaplan–Meier in mode none equals the pooled curve exactly, with Greenwood bands, medians and a log-rank test', async () => {
    const spec = { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 180, maxDays: 3650 }, strata: 'gender', privacy: { mode: 'none' } };
    const fed = await mesh.client.run({ ...spec, agents: sites });
    const pooled = await mesh.client.run({ ...spec, agents: ['pool'] });
    expect(fed.error).toBeUndefined();
    const fc = fed.result!.summary!.curves as { label: string; survival: number[]; lower: number[]; upper: number[]; atRisk: number[] }[];
    expect(fc.map((c) => c.label)).toEqual(expect.arrayContaining(['male', 'female']));
    expect(fed.result!.summary!.curves).toEqual(pooled.result!.summary!.curves);
    expect(fed.result!.summary!.logRank).toEqual(pooled.result!.summary!.logRank);
    for (const c of fc) {
      for (let i = 1; i < c.survival.length; i++) expect(c.survival[i]!).toBeLessThanOrEqual(c.survival[i - 1]!);
      c.survival.forEach((s, i) => {
        expect(c.lower[i]!).toBeLessThanOrEqual(s + 1e-12);
        expect(c.upper[i]!).toBeGreaterThanOrEqual(s - 1e-12);
      });
    }
    const lr = fed.result!.summary!.logRank as { df: number; pValue: number };
    expect(lr.df).toBeGreaterThanOrEqual(1);
    expect(lr.pValue).toBeGreaterThanOrEqual(0);
  });

  it('central-dp survival stays close to the exact curve', async () => {
    const spec = { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, agents: sites };
    const exact = await mesh.client.run({ ...spec, privacy: { mode: 'none' } });
    const noisy = await mesh.client.run({ ...spec, privacy: { mode: 'central-dp', epsilon: 5, delta: 1e-6 } });
    expect(noisy.error).toBeUndefined();
    const ec = (exact.result!.summary!.curves as { survival: number[]; atRisk: number[] }[])[0]!;
    const n = (noisy.result!.summary!.curves as { survival: number[] }[])[0]!.survival;
    // Noise std ≈ 1.6 persons per released cell at ε = 5 (two blocks); at-risk is derived by cumulative sums, so its
    // error grows like √(2i). Where at least 100 persons are at risk the survival error stays well under 0.1 (> 4σ).
    const checked = ec.atRisk.map((r, i) => (r >= 100 ? i : -1)).filter((i) => i >= 0);
    expect(checked.length).toBeGreaterThan(3);
    for (const i of checked) expect(Math.abs(n[i]! - ec.survival[i]!)).toBeLessThan(0.1);
    // Negative control: the noisy curve is not the exact one (noise was added somewhere).
    expect(n).not.toEqual(ec.survival);
  });

  it('characterisation over public concept lists adds up across agents', async () => {
    const spec = { kind: 'characterize', definition: diabetes, conditionConcepts: [320128, 46271022], drugConcepts: [1503297], privacy: { mode: 'none' } };
    const fed = await mesh.client.run({ ...spec, agents: sites });
    const pooled = await mesh.client.run({ ...spec, agents: ['pool'] });
    expect(fed.result!.summary!.conditions).toEqual(pooled.result!.summary!.conditions);
    const metformin = (fed.result!.summary!.drugs as { persons: number }[])[0]!;
    // Metformin follows a diabetes diagnosis in the synthetic model: most of the cohort has it.
    expect(metformin.persons / (fed.result!.summary!.count as number)).toBeGreaterThan(0.3);
  });

  it('a contingency table over public levels with its chi-square test, equal to the pooled one', async () => {
    const spec = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516, 8515, 0], privacy: { mode: 'none' } };
    const fed = await mesh.client.run({ ...spec, agents: sites });
    const pooled = await mesh.client.run({ ...spec, agents: ['pool'] });
    expect(fed.error).toBeUndefined();
    expect(fed.result!.summary!.table).toEqual(pooled.result!.summary!.table);
    const chi = fed.result!.summary!.chiSquare as { statistic: number; df: number; pValue: number };
    expect(chi.df).toBe(3);
    expect(chi.pValue).toBeGreaterThan(0);
    const total = (fed.result!.summary!.table as number[][]).flat().reduce((a, b) => a + b, 0) + (fed.result!.summary!.outside as number);
    expect(total).toBe(2100);
  });

  it('a cohort construct the engine does not support is refused, naming it', async () => {
    const err = await mesh.client.submitJob({ kind: 'cohort', definition: { ConceptSets: [], PrimaryCriteria: { CriteriaList: [{ DeviceExposure: {} }], ObservationWindow: { PriorDays: 0, PostDays: 0 }, PrimaryCriteriaLimit: { Type: 'First' } } }, privacy: { mode: 'none' } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/DeviceExposure/);
  });
});
