/**
 * Issue 13, streaming: exact training on a PostgreSQL agent never holds its rows whole and keeps nothing row-level
 * between rounds. Every round prepares the rows on the server and streams them through a cursor, the test side once
 * and the train side once per local epoch in an order shuffled on the server, a chunk at a time (jobs/train/stream.ts);
 * each round's vector equals, bit for bit, the same streamed round over the same rows in DuckDB (the shuffle is a keyed
 * MD5 of the row's text, the same on both engines). A row changed on the server between two rounds fails the round
 * with FAILED_PRECONDITION (control: unchanged rows answer the same). Skips with a message without the PostgreSQL
 * binaries.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileKindJob, type AgentKindContext } from '../../common/kinds/index.js';
import { FedmeshError } from '../../common/errors.js';
import { glorotInit } from '../../algorithms/fl/index.js';
import { trainAgentKind } from '../../jobs/train/agent.js';
import { trainKind, type CompiledTrainJob } from '../../jobs/train/index.js';
import type { TrainRoundInput } from '../../jobs/train/plan.js';
import { pinnedStartupOptions } from '../../node-agent/data/source/session-settings.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { cursorSession, largestKept } from '../helpers/streamed-state.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';

const noPg = skipWithoutPostgres('exact training streamed per round on a PostgreSQL agent (issue 13)');

const N = 40_003;
/** Deterministic synthetic rows (a fixed LCG: test data only). */
function rows(): { u: number[]; age: number[]; bmi: number[]; sex: string[]; side: string[]; y: number[] } {
  let s = 123456789;
  const r = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out = { u: [] as number[], age: [] as number[], bmi: [] as number[], sex: [] as string[], side: [] as string[], y: [] as number[] };
  for (let i = 0; i < N; i++) {
    const age = 15 + r() * 70;
    const bmi = 16 + r() * 25;
    const sex = r() < 0.5 ? 'F' : 'M';
    const eta = -4 + 0.05 * age + 0.04 * bmi + (sex === 'M' ? 0.5 : 0);
    out.u.push(i + 1);
    out.age.push(age);
    out.bmi.push(bmi);
    out.sex.push(sex);
    out.side.push(r() < 0.2 ? 'test' : 'train');
    out.y.push(r() < 1 / (1 + Math.exp(-eta)) ? 1 : 0);
  }
  return out;
}
const DATA = rows();
const PRODUCT = { name: 't', columns: [{ name: 'u', type: 'BIGINT' }, { name: 'age', type: 'DOUBLE' }, { name: 'bmi', type: 'DOUBLE' }, { name: 'sex', type: 'VARCHAR' }, { name: 'side', type: 'VARCHAR' }, { name: 'y', type: 'INTEGER' }], privacyUnit: 'u', description: '', source: 'test' };
const SPEC = {
  kind: 'train', product: 't', label: 'y',
  features: [{ column: 'age', type: 'numeric', bounds: [15, 85] }, { column: 'bmi', type: 'numeric', bounds: [15, 45] }, { column: 'sex', type: 'categorical', levels: ['F', 'M'] }],
  split: { column: 'side', train: 'train', test: 'test' },
  model: { type: 'mlp', layers: [{ units: 4, activation: 'relu' }] },
  training: { rounds: 2, localEpochs: 2, batchSize: 256, optimizer: 'adam', learningRate: 0.01, seed: 5 },
  strategy: { name: 'fedprox', mu: 0.1 },
  privacy: { mode: 'none' },
};
const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');

describe.skipIf(noPg)('exact training streamed per round on a PostgreSQL agent (issue 13)', () => {
  let cluster: PgCluster;
  let client: pg.Client;
  let inst: DuckDBInstance;
  let duck: DuckDBConnection;
  let local: DuckDBConnection;
  beforeAll(async () => {
    cluster = await startPostgres();
    await cluster.exec('CREATE SCHEMA s1; CREATE TABLE s1.t (u BIGINT, age DOUBLE PRECISION, bmi DOUBLE PRECISION, sex TEXT, side TEXT, y INTEGER)');
    client = new pg.Client({ connectionString: cluster.url(), options: pinnedStartupOptions(['s1']) });
    await client.connect();
    // JS numbers travel as their shortest round-trip text: the server holds the same doubles.
    await client.query('INSERT INTO t SELECT * FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::text[], $5::text[], $6::int[])', [DATA.u, DATA.age, DATA.bmi, DATA.sex, DATA.side, DATA.y]);
    inst = await DuckDBInstance.create(':memory:');
    duck = await inst.connect();
    local = await inst.connect();
    await duck.run('CREATE TABLE t (u BIGINT, age DOUBLE, bmi DOUBLE, sex VARCHAR, side VARCHAR, y INTEGER)');
    const app = await duck.createAppender('t');
    for (let i = 0; i < N; i++) {
      app.appendBigInt(BigInt(DATA.u[i]!));
      app.appendDouble(DATA.age[i]!);
      app.appendDouble(DATA.bmi[i]!);
      app.appendVarchar(DATA.sex[i]!);
      app.appendVarchar(DATA.side[i]!);
      app.appendInteger(DATA.y[i]!);
      app.endRow();
    }
    app.closeSync();
  }, 180_000);
  afterAll(async () => {
    await client?.end().catch(() => undefined);
    local?.closeSync();
    duck?.closeSync();
    inst?.closeSync();
    await cluster?.stop();
    await closeTrainPool();
  });

  const job = compileKindJob(trainKind, SPEC) as CompiledTrainJob;
  const ctx = (jobId: string, jobState: Map<string, unknown>, round: number): AgentKindContext => ({ conn: local, jobId, round, product: PRODUCT, salt: 's', policy: { minCellSize: 5 }, jobState });
  const input = (round: number): TrainRoundInput => ({ phase: round < SPEC.training.rounds ? 'train' : 'eval', weights: Array.from(glorotInit(job.plan.shapes, 100 + round)) });

  it('every round streams the rows from the server in chunks and sends the vector of the same streamed round on DuckDB, bit for bit; nothing per-row is kept', async () => {
    const seen = { streams: 0, rows: 0, largestBatch: 0 };
    const session = cursorSession(client, seen);
    const pgState = new Map<string, unknown>();
    const duckState = new Map<string, unknown>();
    const memState = new Map<string, unknown>();
    const signal = new AbortController().signal;
    const nTest = DATA.side.filter((s) => s === 'test').length;
    for (let r = 0; r <= SPEC.training.rounds; r++) {
      const before = { ...seen };
      const got = (await trainAgentKind.onSource!(ctx('ts-1', pgState, r), job, input(r), session, signal)).values;
      // The same streamed round with DuckDB as the "server" (the agent's own DuckDB session).
      const want = (await trainAgentKind.onSource!(ctx('ts-1d', duckState, r), job, input(r), duck, signal)).values;
      expect(bits(got), `round ${r}`).toBe(bits(want));
      // This round read the test rows once and, training, the train rows once per local epoch, through the cursor.
      const read = seen.rows - before.rows;
      expect(read, `round ${r}`).toBe(r < SPEC.training.rounds ? nTest + SPEC.training.localEpochs * (N - nTest) : nTest);
      expect(trainAgentKind.needsSource!(job, pgState), `round ${r}`).toBe(true);
      expect(largestKept([pgState]), `round ${r}`).toBeLessThan(100);
      // Control for largestKept: the in-memory step keeps its rows in the job's state.
      if (r === 0) {
        await trainAgentKind.localStep(ctx('ts-1m', memState, r), job, input(r), signal);
        expect(largestKept([memState])).toBeGreaterThan(N);
      }
    }
    expect(seen.largestBatch).toBeLessThanOrEqual(5000);
    // Control: another round's weights give another update (the comparison is not of a constant).
    const other = (await trainAgentKind.onSource!(ctx('ts-1', pgState, 0), job, input(1), session, signal)).values;
    expect(bits(other)).not.toBe(bits((await trainAgentKind.onSource!(ctx('ts-1', pgState, 0), job, input(0), session, signal)).values));
  }, 300_000);

  it('a row changed on the server between two rounds fails the next round with FAILED_PRECONDITION (control: unchanged rows answer the same)', async () => {
    const state = new Map<string, unknown>();
    const session = cursorSession(client, { streams: 0, rows: 0, largestBatch: 0 });
    const signal = new AbortController().signal;
    const v0 = (await trainAgentKind.onSource!(ctx('ts-2', state, 0), job, input(0), session, signal)).values;
    expect(bits((await trainAgentKind.onSource!(ctx('ts-2', state, 0), job, input(0), session, signal)).values)).toBe(bits(v0));
    // Two train rows of different persons: merging them into one person changes no design value, only the persons.
    const [a, b] = DATA.side.flatMap((side, i) => (side === 'train' ? [i] : [])).slice(0, 2).map((i) => ({ u: DATA.u[i]!, age: DATA.age[i]! }));
    const changes: [string, string, unknown[]][] = [
      ["UPDATE t SET bmi = bmi + 1 WHERE u = 17 AND side = 'train'", "UPDATE t SET bmi = bmi - 1 WHERE u = 17 AND side = 'train'", []],
      ["UPDATE t SET bmi = bmi + 1 WHERE u = (SELECT min(u) FROM t WHERE side = 'test')", "UPDATE t SET bmi = bmi - 1 WHERE u = (SELECT min(u) FROM t WHERE side = 'test')", []],
      // A label alone (red team 22: a hash that left y out would miss it).
      ['UPDATE t SET y = 1 - y WHERE u = 23', 'UPDATE t SET y = 1 - y WHERE u = 23', []],
      // Two persons made one (red team 22: counts without the persons would miss it).
      ['UPDATE t SET u = $1 WHERE u = $2', 'UPDATE t SET u = $2 WHERE u = $1 AND age = $3', [a!.u, b!.u, b!.age]],
    ];
    for (const [change, undo, params] of changes) {
      await client.query(change, params.slice(0, (change.match(/\$\d/g) ?? []).length));
      try {
        const e = await trainAgentKind.onSource!(ctx('ts-2', state, 1), job, input(1), session, signal).then(() => undefined, (x: unknown) => x);
        expect(e, change).toBeInstanceOf(FedmeshError);
        expect((e as FedmeshError).code, change).toBe('FAILED_PRECONDITION');
        expect((e as FedmeshError).message).toMatch(/changed on the database server between two rounds/);
      } finally {
        await client.query(undo, params);
      }
    }
    // Restored: the job goes on.
    await expect(trainAgentKind.onSource!(ctx('ts-2', state, 1), job, input(1), session, signal)).resolves.toBeDefined();
  }, 180_000);

  it('DP training streams too: local DP-SGD fetches each step\'s Poisson batch by index (rows read ≈ the batches, not the table), one-step DP sums over a cursor; nothing per-row is kept', async () => {
    const seen = { streams: 0, rows: 0, largestBatch: 0 };
    const session = cursorSession(client, seen);
    const signal = new AbortController().signal;
    const local = compileKindJob(trainKind, { ...SPEC, strategy: { name: 'fedavg' }, model: { type: 'logistic' }, training: { ...SPEC.training, localEpochs: 1 }, privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5, clip: 1, localSteps: 6, sampleRate: 0.01, maxRowsPerPerson: 1 } }) as CompiledTrainJob;
    const state = new Map<string, unknown>();
    const w = Array.from(glorotInit(local.plan.shapes, 1));
    const v = (await trainAgentKind.onSource!(ctx('ts-3', state, 0), local, { phase: 'train', weights: w }, session, signal)).values;
    expect(v.some((x) => x !== 0)).toBe(true);
    const nTrain = DATA.side.filter((s) => s === 'train').length;
    // 6 steps at rate 0.01 of ~32 000 rows: ~1 900 rows fetched (bound 4 000, far below one pass of 32 000).
    expect(seen.rows).toBeGreaterThan(1000);
    expect(seen.rows).toBeLessThan(4000);
    expect(largestKept([state])).toBeLessThan(100);
    // One-step DP (the full clipped-gradient sum): one pass over the train rows.
    const full = compileKindJob(trainKind, { ...SPEC, strategy: { name: 'fedavg' }, model: { type: 'logistic' }, training: { ...SPEC.training, localEpochs: 1, optimizer: 'sgd' }, privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5, clip: 1, maxRowsPerPerson: 1 } }) as CompiledTrainJob;
    const before = seen.rows;
    await trainAgentKind.onSource!(ctx('ts-4', state, 0), full, { phase: 'train', weights: Array.from(glorotInit(full.plan.shapes, 1)) }, session, signal);
    expect(seen.rows - before).toBe(nTrain);
    expect(largestKept([state])).toBeLessThan(100);
  }, 180_000);

  it('text person ids under a non-C collation with declared label levels: the same vector as DuckDB bit for bit (the person index, numbered in the collation\'s order, is left out of the shuffle and the fingerprint); no TEMP table is left', async () => {
    const M = 600;
    const u = Array.from({ length: M }, (_, i) => `${i % 2 ? 'a' : 'B'}${i}`);
    const age = Array.from({ length: M }, (_, i) => 20 + ((i * 37) % 60));
    const side = Array.from({ length: M }, (_, i) => (i % 5 === 0 ? 'test' : 'train'));
    const lab = Array.from({ length: M }, (_, i) => ((i * 7) % 11) % 3);
    await client.query('CREATE TABLE s1.t2 (u TEXT COLLATE "en-US-x-icu", age DOUBLE PRECISION, side TEXT, lab INTEGER)');
    await client.query('INSERT INTO t2 SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::int[])', [u, age, side, lab]);
    await duck.run('CREATE TABLE t2 (u VARCHAR, age DOUBLE, side VARCHAR, lab INTEGER)');
    const app = await duck.createAppender('t2');
    for (let i = 0; i < M; i++) {
      app.appendVarchar(u[i]!);
      app.appendDouble(age[i]!);
      app.appendVarchar(side[i]!);
      app.appendInteger(lab[i]!);
      app.endRow();
    }
    app.closeSync();
    // The collations do order these ids differently (the control that the case is the one it claims).
    const pgOrder = (await client.query('SELECT u FROM t2 ORDER BY u LIMIT 3')).rows.map((r: { u: string }) => r.u);
    const duckOrder = (await duck.runAndReadAll('SELECT u FROM t2 ORDER BY u LIMIT 3')).getRowObjectsJS().map((r) => String(r.u));
    expect(pgOrder).not.toEqual(duckOrder);
    const product = { name: 't2', columns: [{ name: 'u', type: 'VARCHAR' }, { name: 'age', type: 'DOUBLE' }, { name: 'side', type: 'VARCHAR' }, { name: 'lab', type: 'INTEGER' }], privacyUnit: 'u', description: '', source: 'test' };
    const j = compileKindJob(trainKind, {
      kind: 'train', product: 't2', label: 'lab', labelLevels: [0, 1, 2], loss: 'categorical-crossentropy',
      features: [{ column: 'age', type: 'numeric', bounds: [15, 85] }], split: { column: 'side', train: 'train', test: 'test' }, model: { type: 'logistic' },
      training: { rounds: 1, localEpochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.05, seed: 9 }, privacy: { mode: 'none' },
    }) as CompiledTrainJob;
    const c = (jobId: string): AgentKindContext => ({ conn: local, jobId, round: 0, product, salt: 's', policy: { minCellSize: 5 }, jobState: new Map() });
    const w = { phase: 'train' as const, weights: Array.from(glorotInit(j.plan.shapes, 4)) };
    const signal = new AbortController().signal;
    const session = cursorSession(client, { streams: 0, rows: 0, largestBatch: 0 });
    const onPg = (await trainAgentKind.onSource!(c('coll-pg'), j, w, session, signal)).values;
    const onDuck = (await trainAgentKind.onSource!(c('coll-duck'), j, w, duck, signal)).values;
    expect(bits(onPg)).toBe(bits(onDuck));
    const left = await client.query("SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'");
    expect(left.rows).toEqual([]);
  }, 120_000);
});
