/**
 * Red team 26, F1: in the DP modes an agent's answer must not depend on the data through a disclosure rule. glm's
 * DataSHIELD rules (parameters ≤ 0.33·n, outcome and level cells ≥ k), train's label-level rule and Cox's
 * saturated-model rule refused DP rounds on exact counts a researcher steers with `where`: bisected, they read one
 * person's attribute for ε = 0.08 in all. Each case below runs the agent's real local step on an in-memory DuckDB
 * at the boundary where the rule fires: in central-dp it answers; the negative control is the same step in mode
 * none, where the rule (an exact release's protection) still refuses, naming it. On 1816d16 every DP case failed.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileKindJob, type AgentKindContext } from '../../common/kinds/index.js';
import { glmAgentKind } from '../../jobs/glm/agent.js';
import { glmKind, type GlmJobInput } from '../../jobs/glm/index.js';
import { trainAgentKind } from '../../jobs/train/agent.js';
import { trainKind, type CompiledTrainJob } from '../../jobs/train/index.js';
import type { TrainRoundInput } from '../../jobs/train/plan.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import type { CoxCovariate } from '../../common/job/index.js';
import { coxAgentStats, coxDesign } from '../../node-agent/analytics/cox.js';

const K = 10;
const PRODUCT = {
  name: 't',
  columns: [
    { name: 'person_id', type: 'BIGINT' },
    { name: 'dob', type: 'INTEGER' },
    { name: 'smoker', type: 'INTEGER' },
    { name: 'sbp', type: 'DOUBLE' },
    { name: 'grade', type: 'INTEGER' },
    { name: 'split', type: 'VARCHAR' },
  ],
  privacyUnit: 'person_id',
  description: '',
  source: 'test',
};
let inst: DuckDBInstance;
let conn: DuckDBConnection;
let jobs = 0;
const ctx = (): AgentKindContext => ({ conn, jobId: `j${++jobs}`, round: 0, product: PRODUCT, salt: 's', policy: { minCellSize: K }, jobState: new Map() });
const signal = () => new AbortController().signal;
const DP = { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 1 };

beforeAll(async () => {
  inst = await DuckDBInstance.create(':memory:');
  conn = await inst.connect();
  // 300 persons; grade 2 is held by 3 of them only (below k), smokers are every tenth.
  const rows = Array.from({ length: 300 }, (_, i) => `(${i}, ${i}, ${i % 10 === 0 ? 1 : 0}, ${100 + (i * 37) % 60}, ${i < 3 ? 2 : i % 2}, '${i % 4 === 0 ? 'test' : 'train'}')`);
  await conn.run(`CREATE TABLE t AS SELECT * FROM (VALUES ${rows.join(',')}) v(person_id, dob, smoker, sbp, grade, split)`);
});
afterAll(async () => {
  conn?.closeSync();
  inst?.closeSync();
  await closeTrainPool();
});

describe('DP modes: no disclosure rule decides whether an agent answers', () => {
  // 3 smokers in dob [0, 25]: p = 2 > 0.33 · 3, the glm.parameters rule.
  const glm = (privacy: Record<string, unknown>) =>
    compileKindJob(glmKind, { kind: 'glm', product: 't', family: 'gaussian', outcome: 'sbp', outcomeBounds: [80, 200], covariates: [{ column: 'dob', type: 'numeric', bounds: [0, 300] }], where: [{ column: 'smoker', op: '=', value: 1 }, { column: 'dob', op: 'between', value: [0, 25] }], privacy });
  const glmInput = { round: 1, beta: null, nullBeta0: null } as GlmJobInput;

  it('glm (parameters ≤ 0.33·n over 3 rows): central-dp answers; control: mode none refuses naming glm.parameters', async () => {
    await expect(glmAgentKind.localStep(ctx(), glm(DP), glmInput, signal())).resolves.toBeDefined();
    await expect(glmAgentKind.localStep(ctx(), glm({ mode: 'none' }), glmInput, signal())).rejects.toMatchObject({ code: 'POLICY_DENIED', message: expect.stringMatching(/glm\.parameters/) });
  });

  // Grade 2 has 3 persons (< k): train's label-level rule.
  const train = (privacy: Record<string, unknown>) =>
    compileKindJob(trainKind, {
      kind: 'train',
      product: 't',
      label: { column: 'grade', levels: [0, 1, 2] },
      loss: 'categoricalCrossentropy',
      features: [{ column: 'sbp', type: 'numeric', bounds: [80, 200] }],
      split: { column: 'split', train: 'train', test: 'test' },
      model: { type: 'logistic' },
      training: { rounds: 1, learningRate: 0.1 },
      update: { maxExamples: 1000 },
      privacy,
    }) as CompiledTrainJob;

  it('train (a label level of 3 persons): central-dp answers; control: mode none refuses naming train.labelLevels', async () => {
    const dp = train({ ...DP, clip: 1 });
    const input = (job: CompiledTrainJob): TrainRoundInput => ({ phase: 'train', weights: Array.from({ length: job.plan.parameters }, () => 0) });
    await expect(trainAgentKind.localStep(ctx(), dp, input(dp), signal())).resolves.toBeDefined();
    const none = train({ mode: 'none' });
    await expect(trainAgentKind.localStep(ctx(), none, input(none), signal())).rejects.toMatchObject({ code: 'POLICY_DENIED', message: expect.stringMatching(/train\.labelLevels/) });
  });

  it('Cox (4 terms over 6 persons: the saturated-model rule): a DP round (no minimum cell size) answers; control: with k = 1 it refuses', () => {
    const n = 6;
    const covariates: CoxCovariate[] = [
      { name: 'age', source: 'age', type: 'numeric', bounds: [18, 90] },
      { name: 'ageGroup', source: 'age', type: 'categorical', bands: [0, 35, 40, 130], levels: ['0-34', '35-39', '40+'], reference: '35-39' },
      { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' },
    ];
    const data = coxDesign({ days: Array.from({ length: n }, (_, i) => 10 + i), event: Array.from({ length: n }, (_, i) => i % 2), age: [30, 36, 50, 33, 38, 70], gender: Array.from({ length: n }, (_, i) => (i % 2 ? 8507 : 8532)) }, covariates, false);
    const beta = Array.from({ length: data.terms.length }, () => 0);
    expect(data.terms.length).toBeGreaterThan(0.33 * n);
    expect(() => coxAgentStats(data, beta, [30], null)).not.toThrow();
    expect(() => coxAgentStats(data, beta, [30], 1)).toThrow(/saturated-model rule/);
  });
});
