/**
 * Issue 13: the cohort benchmark's queries (a cohort with two inclusion rules, then its age and gender
 * characterisation — the work of one cohort job at one agent) on PostgreSQL 15 versus DuckDB, over the same
 * synthetic persons: generated once, loaded into DuckDB, and copied value for value into PostgreSQL with the
 * README's recommended indexes, queried by a read-only role through the agent's own data source. Reports the
 * ratio, the time per cohort stage on each engine (where the time goes), the load time, and PostgreSQL without
 * the recommended indexes. And one glm IRLS round over the person table (gaussian year of birth ~ gender): on
 * PostgreSQL every round builds the design on the server and streams it through the cursor (nothing row-level is
 * kept between rounds), on DuckDB the design read in the first round is kept in memory — the price of the former.
 *
 * The server runs with settings a DBA would give an analytics replica on this machine (stated in the result):
 * shared_buffers 1 GB, work_mem 256 MB, 2 parallel workers per gather, fsync off (a throw-away cluster).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { synthesize } from '../client/tools/synth/index.js';
import { parseCohortDefinition } from '../common/cohort/index.js';
import { characterizeCohort } from '../node-agent/analytics/index.js';
import { compileCohort, runCohort } from '../node-agent/cohort/index.js';
import { duckdbSession, openPostgresSource, type SqlSession } from '../node-agent/data/source/index.js';
import { BENCH_COHORT } from './cohort.js';
import { planAggregatePrivacy, parseJobSpec } from '../common/job/index.js';
import type { AggregateJob } from '../common/job/index.js';
import { listProducts, type ProductInfo } from '../node-agent/data/products.js';
import { queryGroupStatistics } from '../node-agent/query/group-statistics.js';
import { measureInterleaved, ratio, type SuiteReport } from './harness.js';
import { glmAgentKind } from '../jobs/glm/agent.js';
import { trainAgentKind } from '../jobs/train/agent.js';
import { trainKind, type CompiledTrainJob } from '../jobs/train/index.js';
import type { TrainRoundInput } from '../jobs/train/plan.js';
import { compileKindJob } from '../common/kinds/index.js';
import { glorotInit } from '../algorithms/fl/index.js';
import { closeTrainPool } from '../node-agent/train/pool.js';
import { glmKind, type CompiledGlmJob, type GlmJobInput } from '../jobs/glm/index.js';
import type { AgentKindContext } from '../common/kinds/index.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PostgresSource } from '../node-agent/data/source/index.js';
import { startPostgres } from './postgres-cluster.js';
import { copyDuckDbTablesToPostgres, createReadOnlyRole, recommendedIndexSql } from './postgres-omop.js';

const TABLES = ['person', 'observation_period', 'visit_occurrence', 'condition_occurrence', 'drug_exposure', 'measurement', 'death', 'concept', 'concept_ancestor'];
const SETTINGS = { shared_buffers: `'1GB'`, work_mem: `'256MB'`, maintenance_work_mem: `'512MB'`, max_parallel_workers_per_gather: '2', effective_cache_size: `'8GB'`, random_page_cost: '1.1' };

export interface PostgresBenchOptions {
  /** Synthetic persons (one site). @default 1_000_000 */
  persons?: number;
  iterations?: number;
  /** Progress lines (load steps take minutes at full size). */
  log?: (line: string) => void;
}

/**
 * A selective cohort, the kind the README's index advice is for: first gastrointestinal haemorrhage (an acute
 * condition a few percent of persons have) with warfarin in the year before. Its entry events are a small share of
 * condition_occurrence, and its inclusion rule looks up one drug for few persons: what the (concept, person) indexes
 * serve, where the broad diabetes cohort reads most of each table anyway.
 */
export const SELECTIVE_COHORT = {
  name: 'GI haemorrhage with warfarin in the prior year',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 192671 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [{ name: 'warfarin within a year before', type: 'occurrence', domain: 'drug', concepts: { include: [1310149] }, window: { startDays: -365, endDays: 0 } }],
};

/** One cohort job's local work: the cohort, then its age/gender characterisation; the person count. */
async function cohortWork(s: SqlSession, definition: object = BENCH_COHORT): Promise<bigint> {
  await runCohort(s, parseCohortDefinition(definition), { targetTable: 'bench_cohort' });
  return (await characterizeCohort(s, 'bench_cohort', {})).persons;
}
const selectiveWork = (s: SqlSession): Promise<bigint> => cohortWork(s, SELECTIVE_COHORT);

/**
 * One aggregate job's local work, pushed down: drug exposures of the five most frequent drugs (public keys), count,
 * bounded sum of days supplied and mean quantity, 5 rows per person chosen by the keyed hash (central-dp). On
 * PostgreSQL the whole query runs on the server and 5 rows come back.
 */
async function aggregateWork(s: SqlSession, job: AggregateJob, product: ProductInfo): Promise<string> {
  const privacy = planAggregatePrivacy(job, (c) => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR');
  const stats = await queryGroupStatistics(s, job, product, privacy, 'bench-salt');
  return JSON.stringify(stats.groups, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Each statement of the compiled cohort, timed once, labelled by what it builds. */
async function stageTimes(s: SqlSession): Promise<Record<string, number>> {
  const compiled = compileCohort(parseCohortDefinition(BENCH_COHORT), { targetTable: 'bench_stage', dialect: s.dialect });
  const out: Record<string, number> = {};
  for (const st of compiled.statements) {
    const m = /^(DROP TABLE IF EXISTS|CREATE (?:OR REPLACE )?TEMP TABLE|ANALYZE) (?:pg_temp\.)?"bench_stage(?:__)?([a-z]*)"/.exec(st.sql);
    const label = `${m?.[1]?.startsWith('CREATE') ? 'create' : m?.[1]?.startsWith('ANALYZE') ? 'analyze' : 'drop'} ${m?.[2] || 'cohort'}`;
    const t0 = performance.now();
    await s.run(st.sql);
    out[label] = Math.round((out[label] ?? 0) + performance.now() - t0);
  }
  const t0 = performance.now();
  await characterizeCohort(s, 'bench_stage', {});
  out['characterise'] = Math.round(performance.now() - t0);
  for (const sql of compiled.cleanupStatements) await s.run(sql);
  return out;
}

/**
 * One glm IRLS round (round 1) at one agent: DuckDB with its design kept from a first round, PostgreSQL streamed from
 * the server (jobs/glm/agent.ts). Both send the same vector bit for bit.
 */
async function glmRound(conn: DuckDBConnection, source: PostgresSource, iterations: number): Promise<{ duckdbFirstRoundMs: number; duckdbCachedP50Ms: number; postgresStreamedP50Ms: number; rows: number; exactMatch: boolean }> {
  const product = (await listProducts(conn)).find((p) => p.name === 'person')!;
  product.privacyUnit = 'person_id';
  const job: CompiledGlmJob = { ...glmKind.compile(glmKind.parse({ kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], privacy: { mode: 'none' } })), hash: 'bench' };
  const input = glmKind.nextRound(job, []) as GlmJobInput;
  const duckState = new Map<string, unknown>();
  const pgState = new Map<string, unknown>();
  const ctx = (jobState: Map<string, unknown>): AgentKindContext => ({ conn, jobId: 'bench-glm', round: 0, product, salt: 'bench-salt', policy: { minCellSize: 1 }, jobState });
  const signal = new AbortController().signal;
  const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  const t0 = performance.now();
  let duckV: Float64Array = (await glmAgentKind.localStep(ctx(duckState), job, input, signal)).values;
  const duckdbFirstRoundMs = Math.round(performance.now() - t0);
  let pgV: Float64Array = new Float64Array(0);
  const timed = await measureInterleaved(
    {
      duckdb: async () => (duckV = (await glmAgentKind.localStep(ctx(duckState), job, input, signal)).values),
      postgres: async () => (pgV = (await source.withSession((s) => glmAgentKind.onSource!(ctx(pgState), job, input, s, signal))).values),
    },
    { warmup: 1, iterations },
  );
  return { duckdbFirstRoundMs, duckdbCachedP50Ms: timed.duckdb.p50Ms, postgresStreamedP50Ms: timed.postgres.p50Ms, rows: Number((await conn.runAndReadAll('SELECT count(*) AS n FROM person')).getRowObjectsJS()[0]!['n']), exactMatch: bits(duckV) === bits(pgV) };
}

/**
 * One exact train round (1 local epoch, logistic regression of gender on year of birth and race, hash split 80/20) at
 * one agent: DuckDB with its float32 inputs kept from a first round; the streamed path (jobs/train/stream.ts) on the
 * same DuckDB and on PostgreSQL, reading the rows again every round (the train rows in a keyed shuffle made by the
 * engine). The two streamed rounds send the same vector bit for bit; the kept one trains in another row order.
 */
async function trainRound(conn: DuckDBConnection, source: PostgresSource, iterations: number): Promise<{ duckdbFirstRoundMs: number; duckdbKeptP50Ms: number; duckdbStreamedP50Ms: number; postgresStreamedP50Ms: number; trainRows: number; streamedExactMatch: boolean }> {
  const product = (await listProducts(conn)).find((p) => p.name === 'person')!;
  product.privacyUnit = 'person_id';
  const job = compileKindJob(trainKind, {
    kind: 'train', product: 'person', label: 'gender_concept_id', labelLevels: [8507, 8532], loss: 'categorical-crossentropy',
    features: [{ column: 'year_of_birth', type: 'numeric', bounds: [1900, 2020] }, { column: 'race_concept_id', type: 'categorical', levels: [0, 8515, 8516, 8527] }],
    split: { hash: { fraction: 0.2, salt: 'bench' } }, model: { type: 'logistic' },
    training: { rounds: 2, localEpochs: 1, batchSize: 4096, optimizer: 'adam', learningRate: 0.01, seed: 1 }, privacy: { mode: 'none' },
  }) as CompiledTrainJob;
  const input: TrainRoundInput = { phase: 'train', weights: Array.from(glorotInit(job.plan.shapes, 1)) };
  const ctx = (jobId: string, jobState: Map<string, unknown>): AgentKindContext => ({ conn, jobId, round: 0, product, salt: 'bench-salt', policy: { minCellSize: 1 }, jobState });
  const signal = new AbortController().signal;
  const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  const kept = new Map<string, unknown>();
  const t0 = performance.now();
  await trainAgentKind.localStep(ctx('bench-train-kept', kept), job, input, signal);
  const duckdbFirstRoundMs = Math.round(performance.now() - t0);
  const trainRows = (kept.get('train-data') as { train: { n: number } }).train.n;
  let duckV: Float64Array = new Float64Array(0);
  let pgV: Float64Array = new Float64Array(0);
  const timed = await measureInterleaved(
    {
      kept: async () => void (await trainAgentKind.localStep(ctx('bench-train-kept', kept), job, input, signal)),
      duckdbStreamed: async () => (duckV = (await trainAgentKind.onSource!(ctx('bench-train-ds', new Map()), job, input, conn, signal)).values),
      postgresStreamed: async () => (pgV = (await source.withSession((s) => trainAgentKind.onSource!(ctx('bench-train-pg', new Map()), job, input, s, signal))).values),
    },
    { warmup: 1, iterations },
  );
  await closeTrainPool();
  return { duckdbFirstRoundMs, duckdbKeptP50Ms: timed.kept.p50Ms, duckdbStreamedP50Ms: timed.duckdbStreamed.p50Ms, postgresStreamedP50Ms: timed.postgresStreamed.p50Ms, trainRows, streamedExactMatch: bits(duckV) === bits(pgV) };
}

export async function runPostgresBenchmark(options: PostgresBenchOptions = {}): Promise<SuiteReport> {
  const persons = options.persons ?? 1_000_000;
  const iterations = options.iterations ?? 3;
  const log = options.log ?? (() => undefined);
  const work = await mkdtemp(join(tmpdir(), 'fedmesh-bench-pg-'));
  const pg = await startPostgres({ settings: SETTINGS });
  const inst = await DuckDBInstance.create(join(work, 'bench.duckdb'));
  const conn = await inst.connect();
  try {
    let t0 = performance.now();
    const synth = await synthesize({ outDir: join(work, 'data'), sites: 1, persons, seed: 11, format: 'parquet' });
    const synthMs = performance.now() - t0;
    log(`synthesised ${persons} persons (${synth.totalRows} rows) in ${Math.round(synthMs)} ms`);
    const dir = synth.sites[0]!.dir;
    const tables: { name: string; columns: string[] }[] = [];
    const rows: Record<string, number> = {};
    for (const t of TABLES) {
      await conn.run(`CREATE TABLE ${t} AS SELECT * FROM read_parquet('${join(dir, `${t}.parquet`)}')`);
      const cols = (await conn.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_name = '${t}' ORDER BY ordinal_position`)).getRowObjectsJS();
      tables.push({ name: t, columns: cols.map((c) => String(c['column_name'])) });
      rows[t] = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM ${t}`)).getRowObjectsJS()[0]!['n']);
    }
    await pg.exec('CREATE DATABASE cdm');
    t0 = performance.now();
    await copyDuckDbTablesToPostgres((sql) => conn.run(sql), tables, pg, 'cdm', () => 'cdm', work);
    const pgLoadMs = performance.now() - t0;
    log(`copied into PostgreSQL with indexes and ANALYZE in ${Math.round(pgLoadMs)} ms`);
    await createReadOnlyRole(pg, 'cdm', 'agent', 'bench-pw', ['cdm']);
    const source = await openPostgresSource({ url: `postgres://agent@127.0.0.1:${pg.port}/cdm`, password: 'bench-pw', schema: 'cdm', poolSize: 1, statementTimeoutMs: 0 });
    try {
      const duck = duckdbSession(conn);
      let duckPersons = 0n;
      let pgPersons = 0n;
      const timed = await measureInterleaved(
        {
          duckdb: async () => (duckPersons = await cohortWork(duck)),
          postgres: async () => (pgPersons = await source.withSession((s) => cohortWork(s))),
        },
        { warmup: 1, iterations },
      );
      log(`cohort job work: DuckDB p50 ${timed.duckdb.p50Ms} ms, PostgreSQL p50 ${timed.postgres.p50Ms} ms`);
      let selDuck = 0n;
      let selPg = 0n;
      const selective = await measureInterleaved(
        { duckdb: async () => (selDuck = await selectiveWork(duck)), postgres: async () => (selPg = await source.withSession(selectiveWork)) },
        { warmup: 1, iterations },
      );
      const entryRows = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM condition_occurrence WHERE condition_concept_id = 192671')).getRowObjectsJS()[0]!['n']);
      log(`selective cohort (${selDuck} persons; ${entryRows} of ${rows['condition_occurrence']} condition rows): DuckDB p50 ${selective.duckdb.p50Ms} ms, PostgreSQL p50 ${selective.postgres.p50Ms} ms`);
      const top = (await conn.runAndReadAll('SELECT drug_concept_id AS c FROM drug_exposure GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5')).getRowObjectsJS().map((r) => Number(r['c']));
      const aggJob = parseJobSpec({ kind: 'aggregate', product: 'drug_exposure', groupBy: ['drug_concept_id'], groupKeys: { drug_concept_id: top }, measures: [{ fn: 'count' }, { fn: 'sum', column: 'days_supply', bounds: [0, 365] }, { fn: 'mean', column: 'quantity', bounds: [0, 1000] }], privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 5 } }) as AggregateJob;
      const product = (await listProducts(conn)).find((p) => p.name === 'drug_exposure')!;
      product.privacyUnit = 'person_id';
      let duckAgg = '';
      let pgAgg = '';
      const agg = await measureInterleaved(
        {
          duckdb: async () => (duckAgg = await aggregateWork(duck, aggJob, product)),
          postgres: async () => (pgAgg = await source.withSession((s) => aggregateWork(s, aggJob, product))),
        },
        { warmup: 1, iterations },
      );
      log(`aggregate job work (pushed down): DuckDB p50 ${agg.duckdb.p50Ms} ms, PostgreSQL p50 ${agg.postgres.p50Ms} ms`);
      const glm = await glmRound(conn, source, iterations);
      log(`glm round: DuckDB (design kept) p50 ${glm.duckdbCachedP50Ms} ms, PostgreSQL (streamed) p50 ${glm.postgresStreamedP50Ms} ms, exact: ${glm.exactMatch}`);
      const train = await trainRound(conn, source, iterations);
      log(`train round (${train.trainRows} train rows): DuckDB kept p50 ${train.duckdbKeptP50Ms} ms, streamed on DuckDB ${train.duckdbStreamedP50Ms} ms, on PostgreSQL ${train.postgresStreamedP50Ms} ms, streamed exact: ${train.streamedExactMatch}`);
      const stages = { duckdb: await stageTimes(duck), postgres: await source.withSession(stageTimes) };
      // The same work without the recommended indexes (statistics kept): what they buy.
      const indexNames = recommendedIndexSql('cdm', TABLES).map((s) => /CREATE INDEX "([^"]+)"/.exec(s)![1]!);
      await pg.exec(indexNames.map((n) => `DROP INDEX IF EXISTS cdm."${n}"`).join(';\n'), 'cdm');
      const noIndex = await measureInterleaved({ postgres: () => source.withSession((s) => cohortWork(s)), selective: () => source.withSession(selectiveWork) }, { warmup: 1, iterations: Math.max(1, iterations - 1) });
      log(`PostgreSQL without the recommended indexes: cohort ${noIndex.postgres.p50Ms} ms, selective cohort ${noIndex.selective.p50Ms} ms`);
      return {
        results: {
          persons,
          rows,
          synthMs: Math.round(synthMs),
          postgresLoadMs: Math.round(pgLoadMs),
          cohortPersons: Number(duckPersons),
          exactMatch: duckPersons === pgPersons,
          aggregate: { duckdb: { p50Ms: agg.duckdb.p50Ms }, postgres: { p50Ms: agg.postgres.p50Ms }, exactMatch: duckAgg === pgAgg, rowsPushedDown: rows['drug_exposure'] },
          duckdb: { p50Ms: timed.duckdb.p50Ms, p95Ms: timed.duckdb.p95Ms },
          postgres: { p50Ms: timed.postgres.p50Ms, p95Ms: timed.postgres.p95Ms },
          postgresWithoutIndexes: { p50Ms: noIndex.postgres.p50Ms, selectiveP50Ms: noIndex.selective.p50Ms },
          selectiveCohort: {
            persons: Number(selDuck),
            exactMatch: selDuck === selPg,
            entryConditionRows: entryRows,
            duckdb: { p50Ms: selective.duckdb.p50Ms },
            postgres: { p50Ms: selective.postgres.p50Ms },
            note: 'first GI haemorrhage with warfarin in the prior year (+ age/gender characterisation): a selective cohort, what the recommended indexes are for',
          },
          glmRound: { ...glm, note: 'one IRLS round of gaussian year_of_birth ~ gender over the person table: PostgreSQL builds the design on the server and streams it every round (nothing row-level kept), DuckDB keeps the design read in its first round' },
          trainRound: { ...train, note: 'one exact train round (1 local epoch, batch 4096, Adam) of gender ~ year_of_birth + race over the person table, hash split 80/20: DuckDB with float32 inputs kept from its first round, and the streamed path (rows read every round, the train rows once per epoch in a keyed shuffle made by the engine) on DuckDB and on PostgreSQL' },
          stagesMs: stages,
          postgresSettings: SETTINGS,
          note: 'one cohort job\'s work at one agent (cohort SQL with two inclusion rules + age/gender characterisation), same data on both engines; PostgreSQL 15 over loopback TCP as a read-only role, in the same machine (2 cores shared); DuckDB embedded in this process',
        },
        ratios: {
          postgresOverDuckdb: ratio(timed.postgres.p50Ms, timed.duckdb.p50Ms, { numerator: 'PostgreSQL p50', denominator: 'DuckDB p50' }),
          aggregatePostgresOverDuckdb: ratio(agg.postgres.p50Ms, agg.duckdb.p50Ms, { numerator: 'PostgreSQL aggregate p50 (pushed down)', denominator: 'DuckDB aggregate p50' }),
          glmRoundPostgresStreamedOverDuckdbKept: ratio(glm.postgresStreamedP50Ms, glm.duckdbCachedP50Ms, { numerator: 'PostgreSQL glm round p50 (streamed)', denominator: 'DuckDB glm round p50 (design kept)' }),
          trainRoundPostgresStreamedOverDuckdbKept: ratio(train.postgresStreamedP50Ms, train.duckdbKeptP50Ms, { numerator: 'PostgreSQL train round p50 (streamed)', denominator: 'DuckDB train round p50 (inputs kept)' }),
          trainRoundDuckdbStreamedOverKept: ratio(train.duckdbStreamedP50Ms, train.duckdbKeptP50Ms, { numerator: 'DuckDB train round p50 (streamed)', denominator: 'DuckDB train round p50 (inputs kept)' }),
          withoutOverWithIndexes: ratio(noIndex.postgres.p50Ms, timed.postgres.p50Ms, { numerator: 'PostgreSQL without the recommended indexes', denominator: 'with them' }),
          selectivePostgresOverDuckdb: ratio(selective.postgres.p50Ms, selective.duckdb.p50Ms, { numerator: 'PostgreSQL selective cohort p50', denominator: 'DuckDB selective cohort p50' }),
          selectiveWithoutOverWithIndexes: ratio(noIndex.selective.p50Ms, selective.postgres.p50Ms, { numerator: 'PostgreSQL selective cohort without the recommended indexes', denominator: 'with them' }),
        },
      };
    } finally {
      await source.close();
    }
  } finally {
    conn.closeSync();
    inst.closeSync();
    await pg.stop();
    await rm(work, { recursive: true, force: true });
  }
}
