/**
 * Issue 13, streaming: exact training over rows streamed from the source (stream.ts) never holds more than a chunk
 * of rows, reads every row of a side exactly once per pass in a keyed shuffled order, scores the test rows chunk by
 * chunk to the figures of one pass over all of them, and trains as one in-memory call over the rows in the streamed
 * order would, bit for bit. The label rule of declared levels is counted in SQL as label.ts counts it in memory.
 * The source here is DuckDB (the SQL is the dialect layer's; test/integration/postgres-jobs.test.ts runs it on
 * PostgreSQL against this).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { glorotInit } from '../../algorithms/fl/index.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import type { SchemaProduct } from '../../common/job/index.js';
import { computeTrainRound, type TrainComputeTask } from '../../node-agent/train/compute.js';
import { evaluateLocal, trainLocal, type LocalData } from '../../node-agent/train/local-train.js';
import { loadTf } from '../../node-agent/train/tf-runtime.js';
import { poolData } from './synthetic.js';
import { localModelOf, streamedTrainRound, trainAgentKind, trainRound } from './agent.js';
import type { AgentKindContext } from '../../common/kinds/index.js';
import { asSession } from '../../node-agent/cohort/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { dpNetOf } from './dp-net.js';
import { DP_SAMPLE_BLOCK_ROWS, streamedDpSgd } from './privacy-local-agent.js';
import { localDpSgd } from '../../algorithms/fl/dp-sgd.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { readTrainData, withTrainRows } from './data.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { streamedTrainCompute, trainStreamOf, TRAIN_STREAM_CHUNK_ROWS } from './stream.js';

const ROWS = 40_000;
const product: SchemaProduct = { name: 'p', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'x', type: 'DOUBLE' }, { name: 'g', type: 'VARCHAR' }, { name: 'side', type: 'VARCHAR' }, { name: 'y', type: 'INTEGER' }, { name: 'k', type: 'INTEGER' }], privacyUnit: 'person_id' };
const raw = {
  kind: 'train',
  product: 'p',
  label: 'y',
  features: [{ column: 'x', type: 'numeric', bounds: [0, 1] }, { column: 'g', type: 'categorical', levels: ['a', 'b', 'c'] }],
  split: { column: 'side', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  training: { rounds: 2, localEpochs: 1, batchSize: 100, optimizer: 'adam', learningRate: 0.05, seed: 4 },
  privacy: { mode: 'none' },
};
const job = compileKindJob(trainKind, raw) as CompiledTrainJob;
const opts = (scratch: string) => ({ salt: 's', minCellSize: 5, scratch });

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  // y depends on x and g (a learnable label); k is a 3-valued column for the label-level cases (value 9 on 3 persons).
  await conn.run(`CREATE TABLE p AS SELECT i AS person_id, ((i * 7919) % 1000) / 1000.0 AS x, ['a', 'b', 'c'][1 + i % 3] AS g,
    CASE WHEN i % 5 = 0 THEN 'test' ELSE 'train' END AS side,
    (CASE WHEN ((i * 7919) % 1000) / 1000.0 + (i % 3) * 0.2 + ((i * 31) % 7) / 20.0 > 0.9 THEN 1 ELSE 0 END)::INTEGER AS y,
    (CASE WHEN i <= 3 THEN 9 WHEN i % 4 = 0 THEN 2 ELSE 1 END)::INTEGER AS k FROM range(1, ${ROWS + 1}) t(i)`);
});
afterAll(() => {
  conn?.closeSync();
  instance?.closeSync();
});

const rowKeys = (d: LocalData, inputs: number): string[] => Array.from({ length: d.n }, (_, i) => `${d.y[i]}|${Array.from(d.x.subarray(i * inputs, (i + 1) * inputs)).join(',')}`);
const concat = (parts: LocalData[], inputs: number): LocalData => poolData(parts, inputs);

describe('exact training over streamed rows', () => {
  it('reads every row of a side once per pass, in chunks, in an order set by the seed', async () => {
    const inMemory = await readTrainData(conn, job.spec, product, opts('st1'));
    await withTrainRows(conn, job.spec, product, opts('st2'), undefined, async (access) => {
      const stream = await trainStreamOf(job.spec, access, 5);
      expect(stream.train.n).toBe(inMemory.train.n);
      expect(stream.test.n).toBe(inMemory.test.n);
      const pass = async (seed?: number): Promise<LocalData[]> => {
        const out: LocalData[] = [];
        for await (const c of stream.side('train', 10_000, seed)) out.push({ x: c.x.slice(), y: c.y.slice(), n: c.n });
        return out;
      };
      const a = await pass(1);
      expect(a.map((c) => c.n)).toEqual([10_000, 10_000, 10_000, 2_000]);
      const keysA = rowKeys(concat(a, inMemory.inputs), inMemory.inputs);
      expect([...keysA].sort()).toEqual(rowKeys(inMemory.train, inMemory.inputs).sort());
      // The same seed gives the same order; another seed another (a control that the order is the seed's).
      expect(rowKeys(concat(await pass(1), inMemory.inputs), inMemory.inputs)).toEqual(keysA);
      expect(rowKeys(concat(await pass(2), inMemory.inputs), inMemory.inputs)).not.toEqual(keysA);
      // Both sides read whole: both fingerprinted.
      for await (const _ of stream.side('test', 10_000)) void _;
      const fp = stream.fingerprint();
      expect(fp.train).toMatch(/^32000:/);
      expect(fp.test).toMatch(/^8000:/);
    });
  });

  it('scores chunk by chunk to one pass over all test rows, and trains as one in-memory call over the streamed order, bit for bit; no task holds more than a chunk', async () => {
    const { tf } = await loadTf();
    const model = localModelOf(job);
    const weights = glorotInit(job.plan.shapes, 9);
    const config = { epochs: 1, batchSize: 100, optimizer: 'adam' as const, learningRate: 0.05, momentum: 0, mu: 0, seed: 11 };
    await withTrainRows(conn, job.spec, product, opts('st3'), undefined, async (access) => {
      const stream = await trainStreamOf(job.spec, access, 5);
      const tasks: TrainComputeTask[] = [];
      const got = await streamedTrainCompute(stream, { model, weights, thresholds: job.plan.thresholds }, { config }, async (t) => (tasks.push(t), computeTrainRound(t)));
      const trained = tasks.filter((t) => t.train);
      const chunk = Math.floor(TRAIN_STREAM_CHUNK_ROWS / 100) * 100;
      expect(trained.map((t) => t.train!.data.n)).toEqual([chunk, 32_000 - chunk]);
      expect(Math.max(...tasks.map((t) => Math.max(t.test.n, t.train?.data.n ?? 0)))).toBeLessThanOrEqual(TRAIN_STREAM_CHUNK_ROWS);
      // The rows in the order the epoch read them, trained in one call.
      const order: LocalData[] = [];
      for await (const c of stream.side('train', chunk, (config.seed * 7919) >>> 0)) order.push({ x: c.x.slice(), y: c.y.slice(), n: c.n });
      const whole = await trainLocal(tf, model, config, weights, concat(order, 4), undefined, { inOrder: true });
      expect(got.training!.steps).toBe(320);
      expect(Array.from(got.training!.weights)).toEqual(Array.from(whole.weights));
      // The test figures: one pass over the test rows in memory.
      const inMemory = await readTrainData(conn, job.spec, product, opts('st4'));
      const ev = evaluateLocal(tf, model, weights, inMemory.test, job.plan.thresholds);
      expect(got.evaluation.n).toBe(ev.n);
      expect(got.evaluation.correct).toBe(ev.correct);
      expect(Array.from(got.evaluation.rocPos)).toEqual(Array.from(ev.rocPos));
      expect(Array.from(got.evaluation.rocNeg)).toEqual(Array.from(ev.rocNeg));
      // The loss is a float32 sum: over chunks it adds in another order than one tf.sum (tolerance 1e-5 relative).
      expect(Math.abs(got.evaluation.lossSum - ev.lossSum)).toBeLessThan(1e-5 * ev.lossSum);
      // Control: the model learnt something (accuracy well above the majority class), so the comparison is not of zeros.
      const after = evaluateLocal(tf, model, got.training!.weights, inMemory.test, job.plan.thresholds);
      expect(after.correct / after.n).toBeGreaterThan(ev.correct / ev.n);
    });
  });

  it('declared label levels: left-out rows and the label rule counted on the server as label.ts counts them in memory', async () => {
    const levels = compileKindJob(trainKind, { ...raw, label: 'k', labelLevels: [1, 2], loss: 'categorical-crossentropy' }) as CompiledTrainJob;
    const inMemory = await readTrainData(conn, levels.spec, product, opts('st5'));
    await withTrainRows(conn, levels.spec, product, opts('st6'), undefined, async (access) => {
      const stream = await trainStreamOf(levels.spec, access, 5);
      expect({ train: stream.train.n, test: stream.test.n, excluded: stream.labelExcluded, persons: stream.labelExcludedPersons }).toEqual({ train: inMemory.train.n, test: inMemory.test.n, excluded: 3, persons: 3 });
      expect(stream.labelExcludedPersons).toBe(inMemory.labelExcludedPersons);
      const ys = new Set<number>();
      for await (const c of stream.side('train', 8_192, 1)) c.y.forEach((v) => ys.add(v));
      expect([...ys].sort()).toEqual([0, 1]);
    });
    // The rule: a declared level with rows of 1 … k − 1 persons (value 9: 3 persons, k = 5) is refused, as in memory.
    const small = compileKindJob(trainKind, { ...raw, label: 'k', labelLevels: [1, 9], loss: 'categorical-crossentropy' }) as CompiledTrainJob;
    const refusal = async (f: () => Promise<unknown>): Promise<string> => f().then(() => 'none', (e: unknown) => (isFedmeshError(e) ? `${e.code} ${e.message}` : String(e)));
    const inMem = await refusal(() => readTrainData(conn, small.spec, product, opts('st7')));
    const streamed = await refusal(() => withTrainRows(conn, small.spec, product, opts('st8'), undefined, (a) => trainStreamOf(small.spec, a, 5)));
    expect(inMem).toMatch(/^POLICY_DENIED .*train\.labelLevels/);
    expect(streamed).toBe(inMem);
    // Control: with k = 3 both accept.
    await expect(withTrainRows(conn, small.spec, product, { ...opts('st9'), minCellSize: 3 }, undefined, (a) => trainStreamOf(small.spec, a, 3))).resolves.toBeDefined();
  });

  it('local DP-SGD over rows fetched by index equals localDpSgd over the same rows in memory with the same random words, bit for bit (2 sampling blocks)', async () => {
    const dpJob = compileKindJob(trainKind, { ...raw, privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5, clip: 1, localSteps: 4, sampleRate: 0.01, maxRowsPerPerson: 1 } }) as CompiledTrainJob;
    const { net } = dpNetOf(dpJob);
    const options = { net, shapes: dpJob.plan.shapes, clip: 1, steps: 4, sampleThreshold32: Math.round(0.01 * 2 ** 32), noiseMultiplier: 1.1, learningRate: 0.1, expectedBatch: 320, l2: 0, optimizer: 'adam' as const };
    const weights = Array.from(glorotInit(dpJob.plan.shapes, 2));
    await withTrainRows(conn, dpJob.spec, product, opts('st10'), undefined, async (access) => {
      const stream = await trainStreamOf(dpJob.spec, access, 5);
      expect(stream.train.n).toBeGreaterThan(DP_SAMPLE_BLOCK_ROWS);
      // The rows in index order, as rowsAt numbers them.
      const all = Uint32Array.from({ length: stream.train.n }, (_, i) => i);
      const parts: LocalData[] = [];
      for await (const c of stream.rowsAt(all, all.length, 10_000)) parts.push({ x: c.x.slice(), y: c.y.slice(), n: c.n });
      const rowsInOrder = concat(parts, 4);
      const want = localDpSgd(options, weights, rowsInOrder.x, rowsInOrder.y, rowsInOrder.n, createSeededRng(77));
      const got = await streamedDpSgd(options, weights, stream, undefined, createSeededRng(77));
      expect(Array.from(got)).toEqual(Array.from(want.weights));
      // Control: other random words give other weights.
      const other = await streamedDpSgd(options, weights, stream, undefined, createSeededRng(78));
      expect(Array.from(other)).not.toEqual(Array.from(want.weights));
      // close() dropped the indexed copy: the session holds only the rows table.
      const tables = (await conn.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'st10%'")).getRowObjectsJS().map((r) => String(r.table_name));
      expect(tables).toEqual(['st10_glm_rows']);
    });
  });

  it('full-gradient DP rounds over streamed rows send the in-memory round\'s sums (to float rounding: another addition order)', async () => {
    const dpJob = compileKindJob(trainKind, { ...raw, training: { ...raw.training, optimizer: 'sgd' }, privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5, clip: 1, maxRowsPerPerson: 1 } }) as CompiledTrainJob;
    const inMemory = await readTrainData(conn, dpJob.spec, product, opts('st11'));
    const weights = Array.from(glorotInit(dpJob.plan.shapes, 3));
    for (const phase of ['train', 'eval'] as const) {
      const round = phase === 'train' ? 0 : dpJob.spec.training.rounds;
      const want = await trainRound(dpJob, { phase, weights }, inMemory, new Map(), round);
      const got = await withTrainRows(conn, dpJob.spec, product, opts('st12'), undefined, async (access) => streamedTrainRound(dpJob, { phase, weights }, await trainStreamOf(dpJob.spec, access, 5), new Map(), round));
      expect(got.length).toBe(want.length);
      got.forEach((v, i) => expect(Math.abs(v - want[i]!), `${phase} ${i}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want[i]!))));
      expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(1);
    }
  });

  it('FedProx over two local epochs: the streamed round equals two in-memory calls over the two epochs\' orders (anchor at the round\'s weights, Adam state carried, another order each epoch)', async () => {
    const { tf } = await loadTf();
    const model = localModelOf(job);
    const weights = glorotInit(job.plan.shapes, 5);
    const config = { epochs: 2, batchSize: 100, optimizer: 'adam' as const, learningRate: 0.05, momentum: 0, mu: 0.5, seed: 13 };
    await withTrainRows(conn, job.spec, product, opts('st20'), undefined, async (access) => {
      const stream = await trainStreamOf(job.spec, access, 5);
      const got = await streamedTrainCompute(stream, { model, weights, thresholds: job.plan.thresholds }, { config }, (t) => computeTrainRound(t));
      const chunk = Math.floor(TRAIN_STREAM_CHUNK_ROWS / 100) * 100;
      const epochRows = async (e: number): Promise<LocalData> => {
        const parts: LocalData[] = [];
        for await (const c of stream.side('train', chunk, (config.seed * 7919 + e) >>> 0)) parts.push({ x: c.x.slice(), y: c.y.slice(), n: c.n });
        return concat(parts, 4);
      };
      const e0 = await epochRows(0);
      const e1 = await epochRows(1);
      expect(rowKeys(e1, 4)).not.toEqual(rowKeys(e0, 4));
      const one = { ...config, epochs: 1 };
      const first = await trainLocal(tf, model, one, weights, e0, undefined, { inOrder: true, keepOptimizer: true });
      const second = await trainLocal(tf, model, one, first.weights, e1, undefined, { inOrder: true, anchor: weights, optimizer: first.optimizer! });
      expect(Array.from(got.training!.weights)).toEqual(Array.from(second.weights));
    });
  });

  it('declared label levels: a class of many rows from few persons is refused (persons, not rows, are counted)', async () => {
    // Class 9: 2 persons with 4 rows each (8 rows ≥ k = 5, 2 persons < 5).
    await conn.run(`CREATE TABLE p2 AS SELECT * FROM p WHERE person_id > 10 UNION ALL SELECT person_id, x, g, side, y, 9 AS k FROM p, range(4) r(j) WHERE person_id IN (1, 2)`);
    const p2 = { ...product, name: 'p2' };
    const small = compileKindJob(trainKind, { ...raw, product: 'p2', label: 'k', labelLevels: [1, 9], loss: 'categorical-crossentropy' }) as CompiledTrainJob;
    const got = await withTrainRows(conn, small.spec, p2, opts('st21'), undefined, (a) => trainStreamOf(small.spec, a, 5)).then(() => 'none', (e: unknown) => (isFedmeshError(e) ? e.code : String(e)));
    expect(got).toBe('POLICY_DENIED');
    // Control: k = 2 accepts (2 persons).
    await expect(withTrainRows(conn, small.spec, p2, { ...opts('st22'), minCellSize: 2 }, undefined, (a) => trainStreamOf(small.spec, a, 2))).resolves.toBeDefined();
  });

  describe('the kind step on a source (DuckDB standing in for the server)', () => {
    const ctx = (jobId: string, state: Map<string, unknown>, round: number, guarded?: string[], minCellSize = 5): AgentKindContext => ({
      conn, jobId, round, product: { name: 'q', columns: [...product.columns], privacyUnit: product.privacyUnit, description: '', source: 'test' }, salt: 's', policy: { minCellSize }, jobState: state,
      ...(guarded ? { guardReleasedSets: async (_c: unknown, candidates: string) => void guarded.push(candidates) } : {}),
    });
    beforeAll(async () => {
      await conn.run(`CREATE TABLE q AS SELECT * FROM p WHERE person_id <= 200`);
    });
    const spec = { ...raw, product: 'q' };
    const input = (j: CompiledTrainJob, round: number) => ({ phase: round < j.spec.training.rounds ? 'train' : 'eval', weights: Array.from(glorotInit(j.plan.shapes, 1)) }) as never;

    it('a bound fingerprint with a side never read whole does not let a round skip the guard', async () => {
      const j = compileKindJob(trainKind, spec) as CompiledTrainJob;
      const signal = new AbortController().signal;
      // As a completed round that read only the test side leaves it.
      const state = new Map<string, unknown>([['train-rows-fingerprint', { counts: 'x', test: 'y' }]]);
      const calls: string[] = [];
      await trainAgentKind.onSource!(ctx('g1', state, 1, calls), j, input(j, 1), conn, signal).catch(() => undefined);
      expect(calls.length).toBeGreaterThan(0);
      // Control: with both sides bound the guard is skipped.
      const bound = new Map<string, unknown>([['train-rows-fingerprint', { counts: 'x', test: 'y', train: 'z' }]]);
      const none: string[] = [];
      await trainAgentKind.onSource!(ctx('g2', bound, 1, none), j, input(j, 1), conn, signal).catch(() => undefined);
      expect(none).toEqual([]);
    });

    it('SCAFFOLD: a round refused over changed rows leaves the control variate as it was (red team 22, F1)', async () => {
      const j = compileKindJob(trainKind, { ...spec, strategy: { name: 'scaffold' } }) as CompiledTrainJob;
      const signal = new AbortController().signal;
      const control = Array.from({ length: j.plan.parameters }, (_, i) => 0.01 * Math.sin(i));
      const round = (state: Map<string, unknown>, r: number) => trainAgentKind.onSource!(ctx('sc', state, r), j, { ...(input(j, r) as object), control } as never, conn, signal);
      const fresh = new Map<string, unknown>();
      await round(fresh, 0);
      const want = (await round(fresh, 1)).values;
      const state = new Map<string, unknown>();
      await round(state, 0);
      await conn.run(`UPDATE q SET x = 0.999 WHERE person_id = 17`);
      const x0 = Number((await conn.runAndReadAll('SELECT x FROM p WHERE person_id = 17')).getRowObjectsJS()[0]!.x);
      expect(x0).not.toBe(0.999);
      try {
        await expect(round(state, 1)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      } finally {
        await conn.run(`UPDATE q SET x = ${x0} WHERE person_id = 17`);
      }
      expect(Array.from((await round(state, 1)).values)).toEqual(Array.from(want));
    });
  });

  it('holds no cursor open while it trains or scores (a server would end a session idle in a transaction; red team 22, F2)', async () => {
    const base = asSession(conn);
    let open = 0;
    const session: SqlSession = {
      dialect: base.dialect,
      all: (sql, p) => base.all(sql, p),
      run: (sql, p) => base.run(sql, p),
      async *stream(sql, p, o) {
        open++;
        try {
          yield* base.stream(sql, p, o);
        } finally {
          open--;
        }
      },
    };
    const model = localModelOf(job);
    const weights = glorotInit(job.plan.shapes, 9);
    const config = { epochs: 2, batchSize: 100, optimizer: 'sgd' as const, learningRate: 0.05, momentum: 0.9, mu: 0, seed: 3 };
    let tasks = 0;
    let openDuring = 0;
    await withTrainRows(session, job.spec, product, opts('st30'), undefined, async (access) => {
      const stream = await trainStreamOf(job.spec, access, 5);
      await streamedTrainCompute(stream, { model, weights, thresholds: job.plan.thresholds }, { config }, async (t) => {
        tasks++;
        openDuring = Math.max(openDuring, open);
        return computeTrainRound(t);
      });
    });
    expect(tasks).toBeGreaterThan(4);
    expect(openDuring).toBe(0);
  });
});
