/**
 * Issue 13, streaming: a glm job on a PostgreSQL agent keeps nothing row-level between rounds. Every round builds the
 * design on the server and streams it through a cursor in chunks (GLM_STREAM_CHUNK_ROWS, here 40 003 rows = 3
 * chunks, the last not a multiple of 4), and its vectors equal, bit for bit, those of a DuckDB agent holding the
 * same rows in memory — the moments round of a standardised covariate, round 1 at R's starting values, and the IRLS
 * rounds with prior weights. Between rounds the job's state holds no per-row array. A row changed on the server
 * between two rounds fails the round with FAILED_PRECONDITION (control: the unchanged rows answer every round).
 *
 * Red team 19's findings on the first version, each failing with its fix reverted:
 * - F1: a later round's narrower `scales` were applied to the data while β was checked against the first round's
 *   widths, so β = 30 on scale(age) with SD 60·2⁻¹⁶ picked out the persons aged exactly 57. The agent now applies
 *   the first IRLS round's scales in every round (as the DuckDB agent does) and checks β against them.
 * - F2: a first round that failed after the differencing guard (a round-2 input with β null, a cancel) marked the
 *   job guarded without binding its rows, and a later round over changed rows was released unguarded. A round
 *   whose number and β disagree is refused before any read, and the guard mark is set with the fingerprint.
 * - F4: −0 and +0 tie in ORDER BY; a no-op UPDATE swapping them failed the next round. They hash alike now.
 * Skips with a message without the PostgreSQL binaries.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactSumVectors, NO_NOISE, type AgentKindContext, type RoundRecord } from '../../common/kinds/index.js';
import { FedmeshError } from '../../common/errors.js';
import { glmAgentKind, GLM_STREAM_CHUNK_ROWS } from '../../jobs/glm/agent.js';
import { glmKind, type CompiledGlmJob, type GlmJobInput } from '../../jobs/glm/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { pinnedStartupOptions } from '../../node-agent/data/source/session-settings.js';
import { cursorSession, largestKept } from '../helpers/streamed-state.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';

const noPg = skipWithoutPostgres('glm streamed per round on a PostgreSQL agent (issue 13)');

const N = 40_003;
/** Deterministic synthetic rows (a fixed LCG: test data only). */
function rows(): { u: number[]; age: number[]; bmi: number[]; sex: string[]; y: number[]; w: number[] } {
  let s = 987654321;
  const r = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out = { u: [] as number[], age: [] as number[], bmi: [] as number[], sex: [] as string[], y: [] as number[], w: [] as number[] };
  for (let i = 0; i < N; i++) {
    const age = 15 + r() * 70;
    const bmi = 16 + r() * 25;
    const eta = -3 + 0.04 * age + 0.03 * bmi;
    out.u.push(i + 1);
    out.age.push(age);
    out.bmi.push(bmi);
    out.sex.push(r() < 0.5 ? 'F' : 'M');
    out.y.push(r() < 1 / (1 + Math.exp(-eta)) ? 1 : 0);
    out.w.push(0.5 + r());
  }
  return out;
}
const DATA = rows();
const PRODUCT = { name: 't', columns: [{ name: 'u', type: 'BIGINT' }, { name: 'age', type: 'DOUBLE' }, { name: 'bmi', type: 'DOUBLE' }, { name: 'sex', type: 'VARCHAR' }, { name: 'y', type: 'INTEGER' }, { name: 'w', type: 'DOUBLE' }], privacyUnit: 'u', description: '', source: 'test' };
const SPEC = {
  kind: 'glm', product: 't', family: 'binomial', outcome: 'y', weights: 'w',
  covariates: [
    { column: 'age', type: 'numeric', bounds: [20, 80], standardise: true },
    { column: 'sex', type: 'categorical', levels: ['F', 'M'], reference: 'F' },
    { column: 'bmi', type: 'numeric', bounds: [10, 50] },
  ],
  privacy: { mode: 'none' },
};
const compile = (r: unknown): CompiledGlmJob => ({ ...glmKind.compile(glmKind.parse(r)), hash: 'test' });
const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');

describe.skipIf(noPg)('glm streamed per round on a PostgreSQL agent (issue 13)', () => {
  let cluster: PgCluster;
  let client: pg.Client;
  let inst: DuckDBInstance;
  let duck: DuckDBConnection;
  beforeAll(async () => {
    cluster = await startPostgres();
    await cluster.exec('CREATE SCHEMA s1; CREATE TABLE s1.t (u BIGINT, age DOUBLE PRECISION, bmi DOUBLE PRECISION, sex TEXT, y INTEGER, w DOUBLE PRECISION)');
    client = new pg.Client({ connectionString: cluster.url(), options: pinnedStartupOptions(['s1']) });
    await client.connect();
    // JS numbers travel as their shortest round-trip text: the server holds the same doubles.
    await client.query('INSERT INTO t SELECT * FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::text[], $5::int[], $6::float8[])', [DATA.u, DATA.age, DATA.bmi, DATA.sex, DATA.y, DATA.w]);
    inst = await DuckDBInstance.create(':memory:');
    duck = await inst.connect();
    await duck.run('CREATE TABLE t (u BIGINT, age DOUBLE, bmi DOUBLE, sex VARCHAR, y INTEGER, w DOUBLE)');
    const app = await duck.createAppender('t');
    for (let i = 0; i < N; i++) {
      app.appendBigInt(BigInt(DATA.u[i]!));
      app.appendDouble(DATA.age[i]!);
      app.appendDouble(DATA.bmi[i]!);
      app.appendVarchar(DATA.sex[i]!);
      app.appendInteger(DATA.y[i]!);
      app.appendDouble(DATA.w[i]!);
      app.endRow();
    }
    app.closeSync();
  }, 180_000);
  afterAll(async () => {
    await client?.end().catch(() => undefined);
    duck?.closeSync();
    inst?.closeSync();
    await cluster?.stop();
  });

  it('every round re-reads the rows on the server in chunks and sends the DuckDB agent\'s vector bit for bit; nothing per-row is kept between rounds', async () => {
    expect(N).toBeGreaterThan(2 * GLM_STREAM_CHUNK_ROWS);
    const job = compile(SPEC);
    const ctx = (conn: DuckDBConnection, jobState: Map<string, unknown>, round: number): AgentKindContext => ({ conn, jobId: 'stream-1', round, product: PRODUCT, salt: 's', policy: { minCellSize: 5 }, jobState });
    const duckState = new Map<string, unknown>();
    const pgState = new Map<string, unknown>();
    const seen = { streams: 0, rows: 0, largestBatch: 0 };
    const session = cursorSession(client, seen);
    const history: RoundRecord<GlmJobInput>[] = [];
    const signal = new AbortController().signal;
    let rounds = 0;
    for (let r = 0; r < job.maxRounds; r++) {
      const input = glmKind.nextRound(job, history);
      if (input === undefined) break;
      const want = (await glmAgentKind.localStep(ctx(duck, duckState, r), job, input, signal)).values;
      const before = { ...seen };
      const got = (await glmAgentKind.onSource!(ctx(duck, pgState, r), job, input, session, signal)).values;
      expect(bits(got), `round ${r}`).toBe(bits(want));
      // This round streamed every usable row from the server (again), through the cursor's batches.
      expect(seen.streams - before.streams, `round ${r}`).toBeGreaterThanOrEqual(1);
      expect(seen.rows - before.rows, `round ${r}`).toBeGreaterThanOrEqual(N - 100);
      expect(largestKept([pgState]), `round ${r}`).toBeLessThan(100);
      const layout = glmKind.layout(job, r);
      const sum = Array.from(exactSumVectors(layout, layout.blocks.map(() => NO_NOISE), [{ values: want }]).values);
      history.push({ round: r, input, answered: ['a'], released: sum, noiseStd: new Array<number>(layout.blocks.length).fill(0) });
      rounds++;
    }
    // The moments round, round 1 and at least two IRLS rounds ran; the DuckDB agent keeps its design (control for
    // largestKept: it does see a per-row array there).
    expect(rounds).toBeGreaterThanOrEqual(4);
    expect(largestKept([duckState])).toBeGreaterThanOrEqual(N - 100);
    expect(seen.largestBatch).toBeLessThanOrEqual(5000);
  }, 300_000);

  it('a row changed on the server between two rounds fails the next round with FAILED_PRECONDITION (control: unchanged rows answer)', async () => {
    const job = compile(SPEC);
    const state = new Map<string, unknown>();
    const session = cursorSession(client, { streams: 0, rows: 0, largestBatch: 0 });
    const c = (round: number): AgentKindContext => ({ conn: duck, jobId: 'stream-2', round, product: PRODUCT, salt: 's', policy: { minCellSize: 5 }, jobState: state });
    const signal = new AbortController().signal;
    const moments = glmKind.nextRound(job, [])!;
    const v0 = (await glmAgentKind.onSource!(c(0), job, moments, session, signal)).values;
    // Control: the same round again over unchanged rows answers the same.
    expect(bits((await glmAgentKind.onSource!(c(0), job, moments, session, signal)).values)).toBe(bits(v0));
    await client.query('UPDATE t SET bmi = bmi + 1 WHERE u = 17');
    try {
      const e = await glmAgentKind.onSource!(c(0), job, moments, session, signal).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(FedmeshError);
      expect((e as FedmeshError).code).toBe('FAILED_PRECONDITION');
      expect((e as FedmeshError).message).toMatch(/changed on the database server between two rounds/);
    } finally {
      await client.query('UPDATE t SET bmi = bmi - 1 WHERE u = 17');
    }
  }, 120_000);

  describe('red team 19', () => {
    const SMALL = { name: 't3', columns: [{ name: 'u', type: 'BIGINT' }, { name: 'age', type: 'DOUBLE' }, { name: 'bmi', type: 'DOUBLE' }, { name: 'y', type: 'INTEGER' }], privacyUnit: 'u', description: '', source: 'test' };
    // Integer ages 20..79, 6 persons each, 10 persons aged 57.
    const ROWS: [number, number, number, number][] = [];
    for (let age = 20, u = 1; age < 80; age++) for (let i = 0; i < (age === 57 ? 10 : 6); i++, u++) ROWS.push([u, age, 18 + ((u * 37) % 200) / 10, (u * 7) % 3 === 0 ? 1 : 0]);
    const std = (extra: Record<string, unknown> = {}) => compile({ kind: 'glm', product: 't3', family: 'binomial', outcome: 'y', covariates: [{ column: 'age', type: 'numeric', bounds: [20, 80], standardise: true }, { column: 'bmi', type: 'numeric', bounds: [-10, 50] }], privacy: { mode: 'none' }, ...extra });
    const plain = () => compile({ kind: 'glm', product: 't3', family: 'binomial', outcome: 'y', covariates: [{ column: 'age', type: 'numeric', bounds: [20, 80] }, { column: 'bmi', type: 'numeric', bounds: [-10, 50] }], privacy: { mode: 'none' } });
    const signal = new AbortController().signal;
    const moments = { round: 0, moments: true } as unknown as GlmJobInput;
    const wide = [{ column: 'age', mean: 50, sd: 60 }];
    const narrow = [{ column: 'age', mean: 57, sd: 60 * 2 ** -16 }];
    const r1 = (scales?: unknown) => ({ round: 1, beta: null, nullBeta0: null, ...(scales ? { scales } : {}) }) as unknown as GlmJobInput;
    const r2 = (scales: unknown) => ({ round: 2, beta: [0, 30, 0], nullBeta0: null, scales }) as unknown as GlmJobInput;
    const ctx = (jobId: string, jobState: Map<string, unknown>, extra: Partial<AgentKindContext> = {}): AgentKindContext => ({ conn: duck, jobId, round: 0, product: SMALL, salt: 's', policy: { minCellSize: 5 }, jobState, ...extra });
    const fails = (p: Promise<unknown>): Promise<FedmeshError | undefined> => p.then(() => undefined, (e: unknown) => e as FedmeshError);
    let session: SqlSession;
    beforeAll(async () => {
      await client.query('CREATE TABLE s1.t3 (u BIGINT, age DOUBLE PRECISION, bmi DOUBLE PRECISION, y INTEGER)');
      await client.query('INSERT INTO t3 SELECT * FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::int[])', [ROWS.map((r) => r[0]), ROWS.map((r) => r[1]), ROWS.map((r) => r[2]), ROWS.map((r) => r[3])]);
      await duck.run('CREATE TABLE t3 (u BIGINT, age DOUBLE, bmi DOUBLE, y INTEGER)');
      for (const r of ROWS) await duck.run(`INSERT INTO t3 VALUES (${r.join(', ')})`);
      session = cursorSession(client, { streams: 0, rows: 0, largestBatch: 0 });
    });

    it('F1: a later round\'s narrower scales are not applied: the round equals the DuckDB agent\'s bit for bit (no concentration on age 57); control: the same β after a first round with the narrow SD is refused by glm.betaSpan', async () => {
      const job = std();
      const st = new Map<string, unknown>();
      const dst = new Map<string, unknown>();
      for (const input of [moments, r1(wide)]) {
        await glmAgentKind.onSource!(ctx('f1', st), job, input, session, signal);
        await glmAgentKind.localStep(ctx('f1d', dst), job, input, signal);
      }
      const got = (await glmAgentKind.onSource!(ctx('f1', st), job, r2(narrow), session, signal)).values;
      const want = (await glmAgentKind.localStep(ctx('f1d', dst), job, r2(narrow), signal)).values;
      expect(bits(got)).toBe(bits(want));
      // Σ W is not that of the ten persons aged 57 (¼ · 10).
      expect(Math.abs(got[0]! - 2.5)).toBeGreaterThan(0.1);
      const st2 = new Map<string, unknown>();
      await glmAgentKind.onSource!(ctx('f1b', st2), job, moments, session, signal);
      await glmAgentKind.onSource!(ctx('f1b', st2), job, r1(narrow), session, signal);
      const e = await fails(glmAgentKind.onSource!(ctx('f1b', st2), job, r2(narrow), session, signal));
      expect(e?.code).toBe('POLICY_DENIED');
      expect(e?.message).toMatch(/glm\.betaSpan/);
    }, 120_000);

    it('F2: a round whose number and β disagree is refused before any read; a round cancelled after the guard leaves the job unguarded, so the next round guards the rows it reads (control: a completed round is guarded once)', async () => {
      const job = plain();
      const sizes: number[] = [];
      const guardReleasedSets = async (c: DuckDBConnection, cand: string): Promise<void> => {
        sizes.push(Number((await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM "${cand}"`)).getRowObjects()[0]!['n']));
      };
      const st = new Map<string, unknown>();
      const e = await fails(glmAgentKind.onSource!(ctx('f2', st, { guardReleasedSets }), job, { round: 2, beta: null, nullBeta0: null } as unknown as GlmJobInput, session, signal));
      expect(e?.code).toBe('INVALID_ARGUMENT');
      expect(sizes).toEqual([]);
      // Cancelled while the design streams, after the guard has run (the abort is checked between chunks).
      const ac = new AbortController();
      const cancelling: SqlSession = {
        ...session,
        async *stream(sql, p, o) {
          for await (const batch of session.stream(sql, p, o)) {
            if (sql.startsWith('SELECT y')) ac.abort(new Error('deadline'));
            yield batch;
          }
        },
      };
      await expect(glmAgentKind.onSource!(ctx('f2', st, { guardReleasedSets }), job, r1(), cancelling, ac.signal)).rejects.toThrow(/cancelled|deadline/);
      expect(sizes).toEqual([ROWS.length]);
      await client.query('INSERT INTO t3 VALUES (99999, 57, 33.3, 1)');
      try {
        await glmAgentKind.onSource!(ctx('f2', st, { guardReleasedSets }), job, r1(), session, signal);
        // The rows read now (one more person) went through the guard.
        expect(sizes).toEqual([ROWS.length, ROWS.length + 1]);
        await glmAgentKind.onSource!(ctx('f2', st, { guardReleasedSets }), job, r1(), session, signal);
        expect(sizes).toEqual([ROWS.length, ROWS.length + 1]);
      } finally {
        await client.query('DELETE FROM t3 WHERE u = 99999');
      }
    }, 120_000);

    it('F4: rows of -0 and +0 that swap places between rounds (a no-op UPDATE) do not fail the next round; control: a real change does', async () => {
      await client.query("INSERT INTO t3 VALUES (90001, 40, 0.0, 1), (90002, 40, '-0'::float8, 1)");
      try {
        const job = plain();
        const st = new Map<string, unknown>();
        await glmAgentKind.onSource!(ctx('f4', st), job, r1(), session, signal);
        await client.query('UPDATE t3 SET bmi = bmi WHERE u = 90001');
        await glmAgentKind.onSource!(ctx('f4', st), job, r1(), session, signal);
        await client.query('UPDATE t3 SET bmi = 0.5 WHERE u = 90001');
        expect((await fails(glmAgentKind.onSource!(ctx('f4', st), job, r1(), session, signal)))?.code).toBe('FAILED_PRECONDITION');
      } finally {
        await client.query('DELETE FROM t3 WHERE u >= 90001');
      }
    }, 120_000);
  });
});
