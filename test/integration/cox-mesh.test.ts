/**
 * The Cox model end to end over the mesh (coordinator, 3 agents over mTLS, the round runner, the agents' kind task
 * runner): `{"kind":"survival","model":"cox"}` on synthetic OMOP sites equals the pooled Breslow fit on the grid the
 * job used, to 1e-6.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { fitCoxPooled } from '../../algorithms/survival/index.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { runCohort } from '../../node-agent/cohort/index.js';
import { createOmopDb, OMOP_COLUMNS, type TestDb } from '../../node-agent/cohort/test-omop.js';
import { coxAgentLayout, readCoxData } from '../../node-agent/analytics/cox.js';
import type { CoxCovariate } from '../../common/job/index.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
};
// Age only: with 1,200 synthetic persons over 3 sites, deaths per gender at one site fall below the agents' default
// minimum cell size of 10, and the agents rightly refuse a gender term (the refusal is tested below).
const COVARIATES = [{ name: 'age', source: 'age', type: 'numeric', bounds: [15, 105] }];
const GENDER = { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' };
const SPEC = { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 180, maxDays: 3650 }, model: 'cox', covariates: COVARIATES, privacy: { mode: 'none' } };
const SITES = ['s1', 's2', 's3'];

/** The union of the sites' OMOP tables in one in-memory database: the pooled data set. */
async function pooledDb(siteDirs: readonly string[]): Promise<TestDb> {
  const db = await createOmopDb();
  for (const [table, cols] of Object.entries(OMOP_COLUMNS)) {
    const files = siteDirs.map((d) => `'${join(d, `${table}.parquet`)}'`).join(', ');
    const ok = await db.conn.run(`INSERT INTO ${table} SELECT ${cols.map(([c]) => c).join(', ')} FROM read_parquet([${files}], union_by_name = true)`).then(() => true, () => false);
    if (!ok && table === 'person') throw new Error('pooled person table could not be read');
  }
  return db;
}

describe('survival with "model": "cox" over the mesh', () => {
  let mesh: TestMesh;
  let pooled: TestDb;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: SITES });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 3, persons: 1200, seed: 5, format: 'parquet' });
    const dirs = synth.sites.map((s) => s.dir);
    for (const [i, s] of SITES.entries()) {
      await mesh.startAgent(s, dirs[i]!, { allowModes: ['none'], allowKinds: ['aggregate', 'cohort', 'characterize', 'survival', 'contingency', 'survival-cox'] });
    }
    await mesh.waitForAgents(SITES.length);
    pooled = await pooledDb(dirs);
    await runCohort(pooled.conn, parseCohortDefinition(diabetes), { targetTable: 'target' });
  }, 180_000);
  afterAll(async () => {
    pooled?.close();
    await mesh?.close();
  });

  it('runs on the round runner and equals the pooled Breslow fit on the same grid to 1e-6', async () => {
    const job = await mesh.client.run(SPEC);
    expect(job.error).toBeUndefined();
    const summary = job.result!.summary! as { n: number; events: number; status: string; bins: { times: number[] }; likelihoodRatio: { statistic: number } };
    const rows = job.result!.rows as { term: string; coef: number; 'se(coef)': number }[];
    expect(summary.status).toBe('converged');
    expect(summary.n).toBeGreaterThan(100);
    expect(summary.events).toBeGreaterThan(10);
    const data = await readCoxData(pooled.conn, { targetTable: 'target', outcome: { domain: 'death', conceptIds: [] }, timeGrid: SPEC.timeGrid, covariates: COVARIATES as CoxCovariate[] });
    const ref = fitCoxPooled(data.persons, coxAgentLayout(data, summary.bins.times), data.terms).summary;
    expect(rows.map((r) => r.term)).toEqual(['age']);
    expect(summary.n).toBe(ref.n);
    expect(summary.events).toBe(ref.events);
    rows.forEach((r, j) => {
      expect(Math.abs(r.coef - ref.coefficients[j]!.coef)).toBeLessThan(1e-6);
      expect(Math.abs(r['se(coef)'] - ref.coefficients[j]!.se!)).toBeLessThan(1e-6);
    });
    expect(Math.abs(summary.likelihoodRatio.statistic - ref.likelihoodRatio.statistic!)).toBeLessThan(1e-6);
  }, 180_000);

  it('a covariate level with too few events at an agent: the job fails with POLICY_DENIED naming the rule, no counts', async () => {
    const job = await mesh.client.run({ ...SPEC, covariates: [...COVARIATES, GENDER] });
    expect(job.error?.message).toMatch(/minimum cell size: fewer events among gender=/);
    expect(job.error?.message).not.toMatch(/\b\d+ (events|persons)\b/);
  }, 180_000);

  it('negative control: a DP mode the agents do not allow is refused at submission, naming the mode', async () => {
    const err = await mesh.client.submitJob({ ...SPEC, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/central-dp/);
  });

  it('secure secagg and he equal the plain fit to the last bit (exact fixed-point sums)', async () => {
    const coefs = (j: { result?: { rows: Record<string, unknown>[] } }): unknown[] => j.result!.rows.map((r) => [r.coef, r['se(coef)']]);
    const plain = await mesh.client.run(SPEC);
    expect(plain.error).toBeUndefined();
    for (const secure of ['secagg', 'he']) {
      const j = await mesh.client.run({ ...SPEC, secure });
      expect(j.error, secure).toBeUndefined();
      // The bounded-|xβ| evaluation changes nothing for this fit (age effect ~0.0x per year, inside the ball).
      expect(coefs(j)).toEqual(coefs(plain));
      expect(j.result!.notes.join(' ')).toMatch(new RegExp(`secure ${secure}`));
    }
  }, 240_000);
});
