/**
 * Issue 9 §2: covariates standardised from a first federated round. The kind seam is driven in process (compile →
 * nextRound → each agent's local step on its own DuckDB → summed vector → release) and must equal a pooled fit on
 * the same standardised data to 1e-6, with the pooled mean and SD computed independently by DuckDB's avg and
 * stddev_samp over all rows. Negative control: standardising each agent with its own moments differs.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { FedmeshError } from '../../common/errors.js';
import { exactSumVectors, NO_NOISE, type RoundRecord } from '../../common/kinds/index.js';
import { glmAgentKind } from './agent.js';
import { readGlmDesign } from './design.js';
import { glmKind, type CompiledGlmJob, type GlmJobInput } from './index.js';

/** Deterministic synthetic rows (a fixed LCG: test data only, nothing privacy related). */
function rows(n: number): { site: number; age: number; bmi: number; sex: string; y: number }[] {
  let s = 12345;
  const u = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, (_, i) => {
    const site = i % 4;
    // Sites differ in their age mix, so per-site moments differ from the pooled ones; some ages fall outside [20, 80].
    const age = 15 + site * 12 + u() * 60;
    const bmi = 18 + u() * 20;
    const eta = -4 + 0.05 * age + 0.06 * bmi;
    return { site, age, bmi, sex: u() < 0.5 ? 'F' : 'M', y: u() < 1 / (1 + Math.exp(-eta)) ? 1 : 0 };
  });
}
const DATA = rows(600);
const PRODUCT = { name: 't', columns: [{ name: 'site', type: 'INTEGER' }, { name: 'age', type: 'DOUBLE' }, { name: 'bmi', type: 'DOUBLE' }, { name: 'sex', type: 'VARCHAR' }, { name: 'y', type: 'INTEGER' }], privacyUnit: undefined, description: '', source: 'test' };

const open: { i: DuckDBInstance; c: DuckDBConnection }[] = [];
async function db(data: typeof DATA): Promise<DuckDBConnection> {
  const i = await DuckDBInstance.create(':memory:');
  const c = await i.connect();
  open.push({ i, c });
  await c.run('CREATE TABLE t (site INTEGER, age DOUBLE, bmi DOUBLE, sex VARCHAR, y INTEGER)');
  const app = await c.createAppender('t');
  for (const r of data) {
    app.appendInteger(r.site);
    app.appendDouble(r.age);
    app.appendDouble(r.bmi);
    app.appendVarchar(r.sex);
    app.appendInteger(r.y);
    app.endRow();
  }
  app.closeSync();
  return c;
}
afterAll(() => {
  for (const { i, c } of open) {
    c.closeSync();
    i.closeSync();
  }
});

const raw = (extra: Record<string, unknown> = {}) => ({
  kind: 'glm',
  product: 't',
  family: 'binomial',
  outcome: 'y',
  covariates: [
    { column: 'age', type: 'numeric', bounds: [20, 80], standardise: true },
    { column: 'sex', type: 'categorical', levels: ['F', 'M'], reference: 'F' },
    { column: 'bmi', type: 'numeric', bounds: [10, 50], standardise: true },
  ],
  privacy: { mode: 'none' },
  ...extra,
});
const compile = (r: unknown): CompiledGlmJob => ({ ...glmKind.compile(glmKind.parse(r)), hash: 'test' });

/** Runs the job over the agents' connections, summing their vectors each round on the layout's grids (mode none). */
async function runFederated(job: CompiledGlmJob, conns: DuckDBConnection[]) {
  const states = conns.map(() => new Map<string, unknown>());
  const history: RoundRecord<GlmJobInput>[] = [];
  const perAgentVectors: Float64Array[][] = [];
  for (let r = 0; r < job.maxRounds; r++) {
    const input = glmKind.nextRound(job, history);
    if (input === undefined) break;
    const layout = glmKind.layout(job, r);
    const vs = await Promise.all(conns.map(async (conn, a) => (await glmAgentKind.localStep({ conn, jobId: 'j1', round: r, product: PRODUCT, salt: 's', policy: { minCellSize: 1 }, jobState: states[a]! }, job, input, new AbortController().signal)).values));
    const len = layout.blocks.reduce((s, b) => s + b.length, 0);
    for (const v of vs) expect(v.length).toBe(len);
    perAgentVectors.push(vs);
    // As the coordinator sums: each agent's entries snapped to the block's fixed-point grid, then added exactly.
    const sum = Array.from(exactSumVectors(layout, layout.blocks.map(() => NO_NOISE), vs.map((values) => ({ values }))).values);
    history.push({ round: r, input, answered: conns.map((_, a) => `a${a}`), released: sum, noiseStd: new Array<number>(layout.blocks.length).fill(0) });
  }
  return { release: glmKind.release(job, history, { converged: true }), history, perAgentVectors };
}

/** DuckDB's own pooled mean and SD of the clamped column: the independent reference. */
async function sqlMoments(conn: DuckDBConnection, col: string, lo: number, hi: number): Promise<{ mean: number; sd: number }> {
  const r = (await conn.runAndReadAll(`SELECT avg(least(greatest(${col}, ${lo}), ${hi})) AS m, stddev_samp(least(greatest(${col}, ${lo}), ${hi})) AS s FROM t`)).getRowObjectsJS()[0]!;
  return { mean: Number(r.m), sd: Number(r.s) };
}

const SPLITS: [string, number[][]][] = [
  ['2 agents', [[0, 1], [2, 3]]],
  ['3 agents', [[0], [1, 2], [3]]],
  ['4 agents', [[0], [1], [2], [3]]],
];

describe('glm standardise: moments round then IRLS on scale(x)', () => {
  it.each(SPLITS)('%s: mean/SD equal DuckDB over the pooled rows, fit equals the pooled scale() fit to 1e-6', async (_, groups) => {
    const job = compile(raw());
    expect(job.plan.terms).toEqual(['(Intercept)', 'scale(age)', 'sexM', 'scale(bmi)']);
    const conns = await Promise.all(groups.map((g) => db(DATA.filter((r) => g.includes(r.site)))));
    const { release } = await runFederated(job, conns);
    const pooledConn = await db(DATA);
    const age = await sqlMoments(pooledConn, 'age', 20, 80);
    const bmi = await sqlMoments(pooledConn, 'bmi', 10, 50);
    const st = release.summary!.standardisation as Record<string, { mean: number; sd: number; sdFloored: boolean }>;
    expect(Math.abs(st.age!.mean - age.mean)).toBeLessThan(1e-9 * age.mean);
    expect(Math.abs(st.age!.sd - age.sd)).toBeLessThan(1e-9 * age.sd);
    expect(Math.abs(st.bmi!.mean - bmi.mean)).toBeLessThan(1e-9 * bmi.mean);
    expect(Math.abs(st.bmi!.sd - bmi.sd)).toBeLessThan(1e-9 * bmi.sd);
    expect(st.age!.sdFloored).toBe(false);
    // Pooled reference: the reader's SQL standardisation with DuckDB's mean/SD, fitted on one design.
    const spec = glmKind.parse(raw());
    const pooled = await readGlmDesign(pooledConn, spec, PRODUCT, { salt: 's', minCellSize: 1, scratch: 'p', standardisation: { age, bmi } });
    const ref = fitPooled(pooled.design, glmFamily('binomial'), job.plan.terms).summary;
    expect(release.rows.map((r) => r.term)).toEqual(job.plan.terms);
    ref.coefficients.forEach((c, j) => {
      const row = release.rows[j]!;
      expect(Math.abs(Number(row.estimate) - c.estimate)).toBeLessThan(1e-6);
      expect(Math.abs(Number(row.stdError) - c.stdError)).toBeLessThan(1e-6);
    });
    expect(release.notes.join(' ')).toMatch(/scale\(age\) = \(age − /);
  });

  it('the back-transformed coefficients and SEs equal a pooled fit on the original (clamped) scale to 1e-6', async () => {
    const job = compile(raw());
    const conns = await Promise.all(SPLITS[0]![1].map((g) => db(DATA.filter((r) => g.includes(r.site)))));
    const { release } = await runFederated(job, conns);
    const pooledConn = await db(DATA);
    // The unstandardised model (same clamping): R's glm(y ~ age + sex + bmi).
    const plainRaw = raw({ covariates: (raw().covariates as Record<string, unknown>[]).map(({ standardise: _, ...c }) => c) });
    const plainSpec = glmKind.parse(plainRaw);
    const names = compile(plainRaw).plan.terms;
    const pooled = await readGlmDesign(pooledConn, plainSpec, PRODUCT, { salt: 's', minCellSize: 1, scratch: 'o' });
    const ref = fitPooled(pooled.design, glmFamily('binomial'), names).summary;
    const orig = release.summary!.originalScale as { term: string; estimate: number; stdError: number }[];
    expect(orig.map((o) => o.term)).toEqual(names);
    ref.coefficients.forEach((c, j) => {
      expect(Math.abs(orig[j]!.estimate - c.estimate)).toBeLessThan(1e-6 * Math.max(1, Math.abs(c.estimate)));
      expect(Math.abs(orig[j]!.stdError - c.stdError)).toBeLessThan(1e-6 * Math.max(1, c.stdError));
    });
    // Negative control: the intercept's SE from the diagonal alone (ignoring the covariances) is not the right one.
    const std = release.rows.map((r) => Number(r.stdError));
    const st = release.summary!.standardisation as Record<string, { mean: number; sd: number }>;
    const diagOnly = Math.sqrt(std[0]! ** 2 + (std[1]! * st.age!.mean / st.age!.sd) ** 2 + (std[3]! * st.bmi!.mean / st.bmi!.sd) ** 2);
    expect(Math.abs(diagOnly - ref.coefficients[0]!.stdError)).toBeGreaterThan(1e-3);
  });

  it('negative control: standardising each agent with its own moments gives a different fit', async () => {
    const job = compile(raw());
    const groups = SPLITS[2]![1];
    const conns = await Promise.all(groups.map((g) => db(DATA.filter((r) => g.includes(r.site)))));
    const { release } = await runFederated(job, conns);
    const spec = glmKind.parse(raw());
    const local = [];
    for (const c of conns) {
      const standardisation = { age: await sqlMoments(c, 'age', 20, 80), bmi: await sqlMoments(c, 'bmi', 10, 50) };
      local.push((await readGlmDesign(c, spec, PRODUCT, { salt: 's', minCellSize: 1, scratch: 'l', standardisation })).design);
    }
    const wrong = fitPooled(local, glmFamily('binomial'), job.plan.terms).summary;
    const diff = Math.max(...wrong.coefficients.map((c, j) => Math.abs(c.estimate - Number(release.rows[j]!.estimate))));
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('charges one more round, and the moments round is its own layout', () => {
    const plain = compile(raw({ covariates: [{ column: 'age', type: 'numeric', bounds: [20, 80] }] }));
    const std = compile(raw({ covariates: [{ column: 'age', type: 'numeric', bounds: [20, 80], standardise: true }] }));
    expect(std.maxRounds).toBe(plain.maxRounds + 1);
    expect(glmKind.layout(std, 0).blocks.map((b) => b.name)).toEqual(['momentN', 'momentSum', 'momentSumSq']);
    const shape = (j: CompiledGlmJob, r: number) => glmKind.layout(j, r).blocks.map((b) => [b.name, b.length]);
    expect(shape(std, 1)).toEqual(shape(plain, 0));
    expect(shape(std, 2)).toEqual(shape(plain, 1));
    expect(glmKind.nextRound(std, [])).toEqual({ round: 0, moments: true });
  });

  it('secure sums: every agent vector of every round lies within the planned per-agent bounds', async () => {
    const job = compile(raw({ secure: 'secagg' }));
    const conns = await Promise.all(SPLITS[1]![1].map((g) => db(DATA.filter((r) => g.includes(r.site)))));
    const { perAgentVectors } = await runFederated(job, conns);
    expect(perAgentVectors.length).toBeGreaterThan(2);
    perAgentVectors.forEach((vs, r) => {
      const blocks = glmKind.layout(job, r).blocks;
      for (const v of vs) {
        let k = 0;
        for (const b of blocks) {
          expect(b.perAgent.hi).toBeLessThan(1e300);
          for (let e = 0; e < b.length; e++, k++) expect(Math.abs(v[k]!)).toBeLessThanOrEqual(b.perAgent.hi);
        }
      }
    });
  });

  it('refuses standardise in the DP modes naming the field, and bad scales at the agent', async () => {
    for (const privacy of [{ mode: 'central-dp', epsilon: 1, delta: 1e-6 }, { mode: 'local-dp', epsilon: 1, delta: 1e-6 }]) {
      const e = (() => {
        try {
          compile(raw({ privacy, outcomeBounds: [0, 1] }));
          return undefined;
        } catch (x) {
          return x as FedmeshError;
        }
      })();
      expect(e).toBeInstanceOf(FedmeshError);
      expect(e!.message).toMatch(/^covariates\[0\]\.standardise: standardising is available in privacy mode none only/);
    }
    const job = compile(raw());
    const conn = await db(DATA);
    const ctx = { conn, jobId: 'j2', round: 1, product: PRODUCT, salt: 's', policy: { minCellSize: 1 }, jobState: new Map<string, unknown>() };
    const sig = new AbortController().signal;
    const irls = { round: 1, beta: null, nullBeta0: null };
    await expect(glmAgentKind.localStep(ctx, job, irls as GlmJobInput, sig)).rejects.toThrow(/payload\.input\.scales/);
    const scales = [{ column: 'age', mean: 50, sd: 0 }, { column: 'bmi', mean: 30, sd: 5 }];
    await expect(glmAgentKind.localStep(ctx, job, { ...irls, scales } as unknown as GlmJobInput, sig)).rejects.toThrow(/SD between the public floor/);
    // A coordinator's mean outside the bounds (1e200 would overflow the sums) or an SD above their width (red team 7).
    for (const bad of [[{ column: 'age', mean: 1e200, sd: 10 }, { column: 'bmi', mean: 30, sd: 5 }], [{ column: 'age', mean: 50, sd: 61 }, { column: 'bmi', mean: 30, sd: 5 }]]) {
      await expect(glmAgentKind.localStep(ctx, job, { ...irls, scales: bad } as unknown as GlmJobInput, sig)).rejects.toThrow(/mean within the column's bounds/);
    }
    await expect(glmAgentKind.localStep(ctx, job, { round: 0 } as unknown as GlmJobInput, sig)).rejects.toThrow(/moments round/);
  });
});
