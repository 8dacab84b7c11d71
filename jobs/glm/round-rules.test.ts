/**
 * The agent's rules on a coordinator's β in mode none (round-rules.ts), against the attacks they exist for (red
 * team 3): β = (−57c, c) on age makes one person's row the round's statistics; dummies of two public covariates
 * whose levels meet in two persons do the same within the span rule; under a secure sum's clamp the rows inside it
 * are the only ones that change between rounds. Each attack is first shown to work on the bare algorithm
 * (glmLocalStats: the negative control), then refused by the agent's step naming the rule; an honest fit over the
 * same rows runs to convergence under the rules.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily, glmLocalStats, packedIndex, startGlmLocalPass, type GlmDesign, type GlmWeightSpread } from '../../algorithms/glm/index.js';
import { exactSumVectors, NO_NOISE, type RoundRecord } from '../../common/kinds/index.js';
import { FedmeshError } from '../../common/errors.js';
import { glmAgentKind } from './agent.js';
import { glmKind, type CompiledGlmJob, type GlmJobInput } from './index.js';
import { checkBetaSpan, checkWeightSpread, MAX_ETA_SPAN, termSpans } from './round-rules.js';

const N = 3000;
/** Row i: a unique age 57 at i = 0 (everyone else 20–56 or 58–80), d1 on rows 0–299, d2 on rows 298–599 (both: 2 rows). */
function row(i: number): { age: number; d1: number; d2: number; y: number } {
  let age = 20 + ((i * 37) % 61);
  if (age === 57) age = 58;
  if (i === 0) age = 57;
  const d1 = i < 300 ? 1 : 0;
  const d2 = i >= 298 && i < 600 ? 1 : 0;
  // A deterministic outcome (test data, nothing privacy related): a logistic model read off a fixed hash of i.
  const u = ((i * 2654435761) % 2 ** 32) / 2 ** 32;
  const y = u < 1 / (1 + Math.exp(-(-3 + 0.05 * age + 0.5 * d1 - 0.3 * d2))) ? 1 : 0;
  return { age, d1, d2, y };
}
const ROWS = Array.from({ length: N }, (_, i) => row(i));
const PRODUCT = { name: 't', columns: [{ name: 'age', type: 'INTEGER' }, { name: 'd1', type: 'INTEGER' }, { name: 'd2', type: 'INTEGER' }, { name: 'y', type: 'INTEGER' }], privacyUnit: undefined, description: '', source: 'test' };
const K = 10;

let inst: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  inst = await DuckDBInstance.create(':memory:');
  conn = await inst.connect();
  await conn.run(`CREATE TABLE t AS SELECT * FROM (VALUES ${ROWS.map((r) => `(${r.age}, ${r.d1}, ${r.d2}, ${r.y})`).join(', ')}) v(age, d1, d2, y)`);
});
afterAll(() => {
  conn?.closeSync();
  inst?.closeSync();
});

const spec = (covariates: string[], extra: Record<string, unknown> = {}) => ({
  kind: 'glm',
  product: 't',
  family: 'binomial',
  outcome: 'y',
  covariates: covariates.map((column) => ({ column, type: 'numeric', bounds: column === 'age' ? [20, 80] : [0, 1] })),
  privacy: { mode: 'none' },
  ...extra,
});
const compile = (r: unknown): CompiledGlmJob => ({ ...glmKind.compile(glmKind.parse(r)), hash: 'test' });
const step = (job: CompiledGlmJob, beta: number[] | null, state = new Map<string, unknown>()) =>
  glmAgentKind.localStep({ conn, jobId: 'j1', round: 1, product: PRODUCT, salt: 's', policy: { minCellSize: K }, jobState: state }, job, { round: beta === null ? 1 : 2, beta, nullBeta0: null } as GlmJobInput, new AbortController().signal);
const refusedBy = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'answered';
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('POLICY_DENIED');
    // No data value in the message: not the target's age, not a count.
    expect((e as Error).message).not.toMatch(/\b57\b|\b2 rows\b|\b3000\b/);
    return ((e as FedmeshError).details as { rule: string }).rule;
  }
};
/** The same rows as an algorithm design: intercept first, then the covariates in order. */
const design = (cols: ('age' | 'd1' | 'd2')[]): GlmDesign => ({ n: N, p: cols.length + 1, x: Float64Array.from(ROWS.flatMap((r) => [1, ...cols.map((c) => r[c])])), y: Float64Array.from(ROWS.map((r) => r.y)) });

const spreadOf = (x: { sumW: number; sumW2: number; inside: number }): GlmWeightSpread => ({ ...x, nullSumW: 0, nullSumW2: 0, nullInside: 0 });

/** Binomial deviance from R's saturated μ = linkinv(η), as this code computed it before (the negative control). */
function saturatedDeviance(d: GlmDesign, beta: readonly number[], nb0: number | null = null): number {
  const ylogy = (y: number, mu: number): number => (y !== 0 ? y * Math.log(y / mu) : 0);
  let dev = 0;
  for (let i = 0; i < d.n; i++) {
    let eta = d.offset ? d.offset[i]! : 0;
    if (nb0 !== null) eta += nb0;
    else for (let j = 0; j < d.p; j++) eta += d.x[i * d.p + j]! * beta[j]!;
    // R's binomial()$linkinv: saturated beyond |η| = 30.
    const t = eta < -30 ? 2.220446049250313e-16 : eta > 30 ? 1 / 2.220446049250313e-16 : Math.exp(eta);
    const mu = t / (1 + t);
    dev += 2 * (ylogy(d.y[i]!, mu) + ylogy(1 - d.y[i]!, 1 - mu));
  }
  return dev;
}

describe('glm round rules: a coordinator\'s β cannot single out rows in mode none', () => {
  it('red team 4 F1: a threshold on the logit\'s saturation (η = −30) between two ages, via the intercept, tells the deviance nothing about the person between (control: the saturated μ\'s deviance jumps by 12.08 × their y)', () => {
    const c = 1e-6;
    const at = (a0: number) => [-30 - c * a0, c];
    const signal = (y0: number, dev: (d: GlmDesign, b: number[]) => number): number => {
      const d = design(['age']);
      d.y[0] = y0;
      return dev(d, at(57.5)) - dev(d, at(56.5));
    };
    const fixed = (d: GlmDesign, b: number[]) => glmLocalStats(d, glmFamily('binomial'), { round: 2, beta: b, nullBeta0: null }).deviance;
    // Control: before, the difference of the two rounds' deviances was 12.08 × the 57-year-old's outcome.
    expect(signal(1, saturatedDeviance) - signal(0, saturatedDeviance)).toBeGreaterThan(12);
    // Now it moves by 2·c·Δy only (the linear term Σ y·η): nothing that tells y apart.
    expect(Math.abs(signal(1, fixed) - signal(0, fixed))).toBeLessThan(1e-4);
    // And the spans pass: the rule is not what stops it.
    expect(() => checkBetaSpan('binomial', at(57.5), termSpans([[1, 1], [20, 80]]), ['(Intercept)', 'age'])).not.toThrow();
  });

  it('red team 5 N1: the binomial working weight has no jump at η = −30 for a threshold between two ages to expose one person\'s covariates (control: R\'s saturated weights jump)', () => {
    const c = 1e-6;
    const at = (a0: number) => [-30 - c * a0, c];
    const bin = glmFamily('binomial');
    // R's binomial(): μ′ = ε beyond |η| = 30 (the weight drops from e^-30 to ε there).
    const saturated = { ...bin, muEta: (eta: number) => (Math.abs(eta) > 30 ? 2.220446049250313e-16 : bin.muEta(eta)) };
    const jump = (f: typeof bin): number => {
      const d = design(['age']);
      const a = glmLocalStats(d, f, { round: 2, beta: at(56.5), nullBeta0: null }).info[packedIndex(2, 0, 0)]!;
      const b = glmLocalStats(d, f, { round: 2, beta: at(57.5), nullBeta0: null }).info[packedIndex(2, 0, 0)]!;
      // Everyone else's W moves by e^{-c} between the rounds; what is left is the 57-year-old's jump, relative to W.
      return Math.abs(Math.exp(-c) * a - b) / 9.36e-14;
    };
    expect(jump(saturated)).toBeGreaterThan(0.9);
    expect(jump(bin)).toBeLessThan(1e-3);
  });

  it('red team 6 F1: the poisson working weight has no floor at η = ln ε for two rounds to isolate the rows below a threshold (control: R\'s floored weight does)', () => {
    const eps = 2.220446049250313e-16;
    const pois = glmFamily('poisson');
    const floored = { ...pois, linkinv: (eta: number) => Math.max(Math.exp(eta), eps), muEta: (eta: number) => Math.max(Math.exp(eta), eps) };
    const s = 0.45;
    const b0 = Math.log(eps) - s * 56.5;
    const delta = 0.1;
    const below = ROWS.filter((r) => r.age < 56.5).length;
    // Everyone's weight scales by e^δ when β0 moves by δ, but for floored rows: the remainder is ε·(their count).
    const leak = (f: typeof pois): number => {
      const d = design(['age']);
      const a = glmLocalStats(d, f, { round: 2, beta: [b0, s], nullBeta0: null }).info[packedIndex(2, 0, 0)]!;
      const b = glmLocalStats(d, f, { round: 2, beta: [b0 + delta, s], nullBeta0: null }).info[packedIndex(2, 0, 0)]!;
      return Math.abs(b - Math.exp(delta) * a) / ((Math.exp(delta) - 1) * eps * below);
    };
    expect(leak(floored)).toBeGreaterThan(0.99);
    expect(leak(pois)).toBeLessThan(1e-6);
  });

  it('red team 6 F2: narrow bounds that make a numeric covariate a factor with a one-person level are refused (glm.numericCells); the declared range is accepted', async () => {
    const narrow = compile({ ...spec(['age']), covariates: [{ column: 'age', type: 'numeric', bounds: [56, 58] }] });
    expect(await refusedBy(step(narrow, null))).toBe('glm.numericCells');
    // Control: ages over their declared range (61 values: three groups, each of many persons).
    expect(await refusedBy(step(compile(spec(['age'])), null))).toBe('answered');
    // The DP modes need no such rule (the noise covers it): the same narrow bounds read.
    const dp = compile({ ...spec(['age']), covariates: [{ column: 'age', type: 'numeric', bounds: [56, 58] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } });
    expect(await refusedBy(step(dp, null))).toBe('answered');
  });

  it('red team 7: outcome bounds that clamp one person apart (y = an indicator of the one 57-year-old) are refused (glm.boundCells); bounds many persons reach are not', async () => {
    const gauss = (bounds: [number, number]) => compile({ ...spec(['d1']), family: 'gaussian', outcome: 'age', outcomeBounds: bounds, where: [{ column: 'age', op: '<=', value: 57 }] });
    // Control: what round 1 would release — Xᵀy − 56·Xᵀ1 is the one 57-year-old's covariate row.
    const d = design(['d1']);
    const keep = ROWS.map((r, i) => (r.age <= 57 ? i : -1)).filter((i) => i >= 0);
    const sub: GlmDesign = { n: keep.length, p: 2, x: Float64Array.from(keep.flatMap((i) => [d.x[i * 2]!, d.x[i * 2 + 1]!])), y: Float64Array.from(keep, (i) => Math.min(57, Math.max(56, ROWS[i]!.age))) };
    const r1 = glmLocalStats(sub, glmFamily('gaussian'), { round: 1, beta: null, nullBeta0: null });
    expect(r1.rhs[0]! - 56 * r1.info[packedIndex(2, 0, 0)]!).toBeCloseTo(1, 9);
    expect(r1.rhs[1]! - 56 * r1.info[packedIndex(2, 0, 1)]!).toBeCloseTo(ROWS[0]!.d1, 9);
    expect(await refusedBy(step(gauss([56, 57]), null))).toBe('glm.boundCells');
    expect(await refusedBy(step(gauss([20, 80]), null))).toBe('answered');
  });

  it('red team 5 N2: the span rule compares public widths, so a refusal tells nothing about the data\'s range', async () => {
    // Ages 20–80 in the data, declared [0, 120]: the limit is 30/120 = 0.25 per year, not 30/60.
    const wide = compile({ ...spec(['age']), covariates: [{ column: 'age', type: 'numeric', bounds: [0, 120] }] });
    expect(await refusedBy(step(wide, [-15, 0.3]))).toBe('glm.betaSpan');
    expect(await refusedBy(step(wide, [-15, 0.24]))).toBe('answered');
  });

  it('red team 4 F2: nullBeta0 on either side of the saturation, with an offset, tells the null deviance nothing about one person beyond Σy (control: the saturated μ\'s jumps)', () => {
    const off = Float64Array.from(ROWS, (_, i) => (i === 0 ? 0.1 : 0.5 + ((i * 7) % 26) / 10));
    const d = (y0: number): GlmDesign => {
      const x = design(['age']);
      x.y[0] = y0;
      return { ...x, offset: off };
    };
    const [na, nb] = [-30.3, -29.95];
    const nullDev = (g: GlmDesign, nb0: number) => glmLocalStats(g, glmFamily('binomial'), { round: 2, beta: [0, 0], nullBeta0: nb0 }).nullDeviance;
    // What the two rounds release, less what Σy (also released) explains: −2·(nb − na)·Σy.
    const signal = (y0: number, f: (g: GlmDesign, nb0: number) => number): number => {
      const g = d(y0);
      const sumY = g.y.reduce((a, v) => a + v, 0);
      return f(g, na) - f(g, nb) - 2 * (nb - na) * sumY;
    };
    expect(Math.abs(signal(1, (g, nb0) => saturatedDeviance(g, [], nb0)) - signal(0, (g, nb0) => saturatedDeviance(g, [], nb0)))).toBeGreaterThan(10);
    expect(Math.abs(signal(1, nullDev) - signal(0, nullDev))).toBeLessThan(1e-6);
  });

  it('β = (−57c, c) on age: the bare statistics are the one 57-year-old\'s row (control); the agent refuses glm.betaSpan', async () => {
    const c = 40;
    const s = glmLocalStats(design(['age']), glmFamily('binomial'), { round: 2, beta: [-57 * c, c], nullBeta0: null });
    const info00 = s.info[packedIndex(2, 0, 0)]!;
    expect(info00).toBeCloseTo(0.25, 6);
    expect(s.info[packedIndex(2, 0, 1)]! / info00).toBeCloseTo(57, 6);
    expect(await refusedBy(step(compile(spec(['age'])), [-57 * c, c]))).toBe('glm.betaSpan');
    // At the steepest β the rule allows (span 30 over the range 60) the agent answers, and its weights are spread
    // over hundreds of rows (Kish's effective number), not one.
    const b = MAX_ETA_SPAN / 60;
    const v = await step(compile(spec(['age'])), [-57 * b, b]);
    expect(v.values.length).toBeGreaterThan(0);
    const pass = startGlmLocalPass(design(['age']), glmFamily('binomial'), { round: 2, beta: [-57 * b, b], nullBeta0: null });
    pass.run(N);
    const w = pass.spread();
    expect((w.sumW * w.sumW) / w.sumW2).toBeGreaterThan(100);
  });

  it('two dummies whose levels meet in 2 rows, within the span rule: the bare statistics are those 2 rows (control); the agent refuses glm.effectiveRows', async () => {
    const beta = [-30, 15, 15];
    checkBetaSpan('binomial', beta, [0, 1, 1], ['(Intercept)', 'd1', 'd2']);
    const s = glmLocalStats(design(['d1', 'd2']), glmFamily('binomial'), { round: 2, beta, nullBeta0: null });
    expect(s.info[packedIndex(3, 0, 0)]).toBeCloseTo(0.5, 3);
    expect(await refusedBy(step(compile(spec(['d1', 'd2'])), beta))).toBe('glm.effectiveRows');
  });

  it('under a secure sum\'s clamp, the 2 rows inside it are all that differ between rounds: refused glm.clampInside', async () => {
    const job = compile(spec(['d1', 'd2'], { secure: 'secagg' }));
    expect(job.plan.etaClamp).not.toBeNull();
    const clamp = job.plan.etaClamp!;
    const options = { etaClamp: clamp };
    // Control: the others sit at the clamp in both rounds, so the difference of two rounds' XᵀWX is the 2 rows' alone.
    const at = (b0: number) => glmLocalStats(design(['d1', 'd2']), glmFamily('binomial'), { round: 2, beta: [b0, 15, 15], nullBeta0: null }, options);
    const a = at(-30);
    const b = at(-30 - 2 * clamp[1]);
    const d00 = a.info[packedIndex(3, 0, 0)]! - b.info[packedIndex(3, 0, 0)]!;
    const d11 = a.info[packedIndex(3, 1, 1)]! - b.info[packedIndex(3, 1, 1)]!;
    expect(d00).toBeGreaterThan(0.4);
    expect(d11).toBeCloseTo(d00, 12);
    expect(await refusedBy(step(job, [-30, 15, 15]))).toBe('glm.clampInside');
  });

  it('an honest fit over the same rows converges under the rules (plain and secagg-clamped), the age effect recovered', async () => {
    for (const extra of [{}, { secure: 'secagg' }]) {
      const job = compile(spec(['age', 'd1', 'd2'], extra));
      const state = new Map<string, unknown>();
      const history: RoundRecord<GlmJobInput>[] = [];
      for (let r = 0; r < job.maxRounds; r++) {
        const input = glmKind.nextRound(job, history);
        if (input === undefined) break;
        const layout = glmKind.layout(job, r);
        const v = await glmAgentKind.localStep({ conn, jobId: 'j1', round: r, product: PRODUCT, salt: 's', policy: { minCellSize: K }, jobState: state }, job, input, new AbortController().signal);
        const sum = Array.from(exactSumVectors(layout, layout.blocks.map(() => NO_NOISE), [{ values: v.values }]).values);
        history.push({ round: r, input, answered: ['a0'], released: sum, noiseStd: new Array<number>(layout.blocks.length).fill(0) });
      }
      const release = glmKind.release(job, history, { converged: true }) as unknown as { rows: { term: string; estimate: number }[]; summary: { converged: boolean } };
      expect(release.summary.converged).toBe(true);
      expect(history.length).toBeGreaterThan(3);
      if (!('secure' in extra)) {
        // Mode none, plain: the pooled fit's estimates (the rules changed nothing).
        const ref = fitPooled(design(['age', 'd1', 'd2']), glmFamily('binomial'), job.plan.terms).summary.coefficients;
        release.rows.forEach((r, j) => expect(r.estimate).toBeCloseTo(ref[j]!.estimate, 6));
      }
      expect(release.rows.find((c) => c.term === 'age')!.estimate).toBeGreaterThan(0.02);
    }
  });

  it('the pure rules: gaussian is exempt from the span rule; an all-clamped round passes; ranges are per column', () => {
    expect(() => checkBetaSpan('gaussian', [1e9, 1e9], [0, 100], ['a', 'b'])).not.toThrow();
    expect(() => checkBetaSpan('poisson', [0, 0.31], [0, 100], ['a', 'b'])).toThrow(/glm\.betaSpan.*beta\[1\] \(b\)/);
    expect(() => checkBetaSpan('poisson', [0, 0.3], [0, 100], ['a', 'b'])).not.toThrow();
    expect(() => checkWeightSpread(spreadOf({ sumW: 10, sumW2: 10, inside: 0 }), 10, true, 50)).not.toThrow();
    expect(() => checkWeightSpread(spreadOf({ sumW: 10, sumW2: 11, inside: 50 }), 10, true, 50)).toThrow(/glm\.effectiveRows/);
    expect(() => checkWeightSpread(spreadOf({ sumW: 100, sumW2: 100, inside: 9 }), 10, true, 100)).toThrow(/glm\.clampInside/);
    expect(() => checkWeightSpread(spreadOf({ sumW: 100, sumW2: 100, inside: 9 }), 10, false, 100)).not.toThrow();
    // The null pass: checked only when the round has a nullBeta0.
    const spikyNull = { ...spreadOf({ sumW: 100, sumW2: 100, inside: 100 }), nullSumW: 1, nullSumW2: 1, nullInside: 100 };
    expect(() => checkWeightSpread(spikyNull, 10, false, 100, true)).toThrow(/glm\.effectiveRows: at this round's nullBeta0/);
    expect(() => checkWeightSpread(spikyNull, 10, false, 100, false)).not.toThrow();
    expect(termSpans([[1, 1], [20, 80], [0, 1]], new Map([[1, 10]]))).toEqual([0, 6, 1]);
  });
});
