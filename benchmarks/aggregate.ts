/**
 * Suite `aggregate` (issue 2, item 12a): one grouped count + mean over N synthetic rows (default 10 M),
 * federated across 4 agents over mTLS through the real engine path (researcher client → coordinator → agents'
 * DuckDB → Arrow partials → exact combine), versus the same statistics from ONE DuckDB holding all N rows, in
 * the same run, interleaved. Target: federated p50 / single p50 ≤ 1.5.
 *
 * The single-DuckDB baseline runs SQL equivalent to the agents' (node-agent/query/aggregate-sql.ts): values
 * clamped to the declared bounds, snapped to the same fixed-point grid, exact integer sums. A second, naive
 * baseline (`avg()` of the clamped doubles, no grid) is timed too, to show what the exact grid itself costs.
 *
 * All agents live in this process and share the machine's cores with each other and with the coordinator,
 * as separate processes on one machine would; on a real mesh each site brings its own cores.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ratioToNumber, scaleBitsFor } from '../algorithms/aggregate/index.js';
import type { JobView } from '../client/sdk/types.js';
import { measureInterleaved, ratio, startBenchMesh, summarize, type SuiteReport } from './harness.js';

export interface AggregateBenchmarkOptions {
  /** Rows in total, split evenly across the agents. @default 10_000_000 */
  rows?: number;
  /** @default 4 */
  agents?: number;
  /** @default 2 */
  warmup?: number;
  /** @default 11 */
  iterations?: number;
  /** Seed of the synthetic values. @default 20240612 */
  seed?: number;
}

const BOUNDS: [number, number] = [1900, 2030];
const JOB = {
  kind: 'aggregate',
  product: 'person',
  groupBy: ['gender_concept_id'],
  measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: BOUNDS }],
  privacy: { mode: 'none' },
} as const;

/**
 * Rows [from, to) of the synthetic person table; every value depends only on (seed, person_id) through
 * DuckDB's hash, so any split by person_id range gives exactly the rows of the whole table. year_of_birth runs
 * 1890–2039, partly outside the declared bounds, so clamping matters. Parameters: $seed, $from, $to.
 */
const ROWS_SQL = `SELECT person_id,
  CAST(CASE WHEN hash($seed::BIGINT, person_id, 1) % 1000 < 490 THEN 8507
            WHEN hash($seed::BIGINT, person_id, 1) % 1000 < 995 THEN 8532 ELSE 8551 END AS INTEGER) AS gender_concept_id,
  CAST(1890 + hash($seed::BIGINT, person_id, 2) % 150 AS INTEGER) AS year_of_birth,
  CAST(hash($seed::BIGINT, person_id, 3) % 1000000 AS DOUBLE) / 1000 AS value
FROM (SELECT range + 1 AS person_id FROM range($from::BIGINT, $to::BIGINT))`;

const sqlString = (path: string): string => `'${path.replace(/'/g, "''")}'`;

/**
 * Writes `dir/site-1 … site-<sites>/person.parquet`, the rows [0, rows) of the synthetic person table split
 * evenly by person_id range, with DuckDB's COPY. Returns one agent entry (name `agent-<i>`, data folder) per site.
 */
export async function writeSyntheticSites(dir: string, rows: number, sites: number, seed: number): Promise<{ name: string; dataDir: string }[]> {
  const gen = await DuckDBInstance.create(':memory:');
  const conn = await gen.connect();
  try {
    const agents: { name: string; dataDir: string }[] = [];
    for (let i = 0; i < sites; i++) {
      const from = Math.floor((rows * i) / sites);
      const to = Math.floor((rows * (i + 1)) / sites);
      const dataDir = join(dir, `site-${i + 1}`);
      await mkdir(dataDir, { recursive: true });
      // The path is our own temp folder; COPY takes no parameter for it.
      await conn.run(`COPY (${ROWS_SQL}) TO ${sqlString(join(dataDir, 'person.parquet'))} (FORMAT parquet)`, { seed, from, to });
      agents.push({ name: `agent-${i + 1}`, dataDir });
    }
    return agents;
  } finally {
    conn.closeSync();
    gen.closeSync();
  }
}

/**
 * The agents' sufficient statistics for this job, written for one pooled table. It mirrors what
 * node-agent/query/aggregate-sql.ts runs in mode `none` (values clamped and centred at 0, sums on the grid
 * 2^-scale, squares clipped to max(lo², hi²) on the grid 2^-2·scale, exact HUGEINT sums); if that SQL changes,
 * change this with it, or the ratio stops comparing like with like.
 */
const EXACT_SQL = `SELECT k0, count(*)::BIGINT AS count, count(c)::BIGINT AS m_n,
  coalesce(sum(round(c * $scale::DOUBLE)::HUGEINT), 0)::HUGEINT AS m_sum,
  coalesce(sum(round(least(c * c, $maxSq::DOUBLE) * $sqScale::DOUBLE)::HUGEINT), 0)::HUGEINT AS m_sumsq
FROM (SELECT gender_concept_id::BIGINT AS k0, (least(greatest(year_of_birth::DOUBLE, $lo::DOUBLE), $hi::DOUBLE) - 0::DOUBLE) AS c FROM person) AS t
GROUP BY k0 ORDER BY k0`;

/** What one would write without a federation in mind: a plain average of the clamped values. */
const NAIVE_SQL = `SELECT gender_concept_id AS k0, count(*) AS count, avg(least(greatest(year_of_birth, $lo::INTEGER), $hi::INTEGER)) AS mean
FROM person GROUP BY k0 ORDER BY k0`;

interface GroupAnswer {
  gender: number;
  count: number;
  mean: number | null;
}

function checkInt(value: number, name: string, min = 1): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`options.${name} must be an integer >= ${min}, got ${value}`);
}

async function singleExact(conn: DuckDBConnection, scaleBits: number): Promise<GroupAnswer[]> {
  const [lo, hi] = BOUNDS;
  const reader = await conn.runAndReadAll(EXACT_SQL, { lo, hi, scale: 2 ** scaleBits, maxSq: Math.max(lo * lo, hi * hi), sqScale: 2 ** (2 * scaleBits) });
  return reader.getRowObjectsJS().map((r) => ({
    gender: Number(r.k0),
    count: Number(r.count),
    // The coordinator's release of a mean (exact integers → one double), applied to the pooled statistics.
    mean: BigInt(r.m_n as bigint) > 0n ? ratioToNumber(BigInt(r.m_sum as bigint), BigInt(r.m_n as bigint) << BigInt(scaleBits)) : null,
  }));
}

async function singleNaive(conn: DuckDBConnection): Promise<GroupAnswer[]> {
  const reader = await conn.runAndReadAll(NAIVE_SQL, { lo: BOUNDS[0], hi: BOUNDS[1] });
  return reader.getRowObjectsJS().map((r) => ({ gender: Number(r.k0), count: Number(r.count), mean: r.mean as number }));
}

function federatedAnswer(job: JobView): GroupAnswer[] {
  if (job.state !== 'succeeded' || !job.result) throw new Error(`benchmarks/aggregate: job ${job.jobId} ${job.state}: ${job.error?.message ?? 'no result'}`);
  if (job.result.suppressed.length > 0) throw new Error('benchmarks/aggregate: unexpected suppressed groups');
  return job.result.rows
    .map((r) => ({ gender: Number(r.gender_concept_id), count: Number(r.count), mean: r.mean_year_of_birth as number | null }))
    .sort((a, b) => a.gender - b.gender);
}

/** Runs the suite; writes nothing outside its scratch folder (the caller records the report). */
export async function runAggregateBenchmark(options: AggregateBenchmarkOptions = {}): Promise<SuiteReport> {
  const rows = options.rows ?? 10_000_000;
  const agentCount = options.agents ?? 4;
  const warmup = options.warmup ?? 2;
  const iterations = options.iterations ?? 11;
  const seed = options.seed ?? 20240612;
  checkInt(agentCount, 'agents');
  checkInt(rows, 'rows', agentCount * 100);
  checkInt(iterations, 'iterations');
  checkInt(warmup, 'warmup', 0);
  checkInt(seed, 'seed', 0);

  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-aggregate-'));
  let mesh: Awaited<ReturnType<typeof startBenchMesh>> | undefined;
  let single: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  try {
    // 1. Data: one Parquet file per agent, written by DuckDB.
    const t0 = performance.now();
    const agents = await writeSyntheticSites(join(workDir, 'data'), rows, agentCount, seed);
    const files = agents.map((a) => join(a.dataDir, 'person.parquet'));
    const generateMs = performance.now() - t0;

    // 2. The single DuckDB over all rows, loaded from the same files the way agents load theirs.
    const t1 = performance.now();
    await mkdir(join(workDir, 'single'), { recursive: true });
    single = await DuckDBInstance.create(join(workDir, 'single', 'single.duckdb'));
    conn = await single.connect();
    await conn.run(`CREATE TABLE person AS SELECT * FROM read_parquet([${files.map(sqlString).join(', ')}])`);
    const loadSingleMs = performance.now() - t1;

    // 3. The mesh: coordinator + agents over mTLS; each agent ingests its Parquet file into its own DuckDB.
    const taskMs = new Map<string, number[]>();
    const agentFailures: string[] = [];
    let recording = false;
    mesh = await startBenchMesh({
      workDir,
      agents,
      onAgentEvent: (agent, event, fields) => {
        if (event === 'task-failed') agentFailures.push(`${agent}: ${String(fields.code)} ${String(fields.message)}${fields.cause ? ` (${String(fields.cause)})` : ''}`);
        if (!recording || event !== 'task-done') return;
        taskMs.set(agent, [...(taskMs.get(agent) ?? []), Number(fields.ms)]);
      },
    });
    const client = mesh.client;
    const scaleBits = scaleBitsFor('INTEGER', BOUNDS);
    const singleConn = conn;

    // 4. Correctness before speed: the federated answer must equal the pooled one exactly.
    let fed: GroupAnswer[];
    try {
      fed = federatedAnswer(await client.run(JOB));
    } catch (e) {
      // The researcher sees only "internal error at the agent"; the agents' own log says why.
      throw new Error(`${(e as Error).message}${agentFailures.length > 0 ? `; agents logged: ${agentFailures.join('; ')}` : ''}`, { cause: e });
    }
    const pooled = await singleExact(singleConn, scaleBits);
    const naive = await singleNaive(singleConn);
    const exact = JSON.stringify(fed) === JSON.stringify(pooled);
    const maxNaiveRelDiff = Math.max(...pooled.map((g, i) => Math.abs((g.mean ?? 0) - (naive[i]?.mean ?? NaN)) / Math.abs(g.mean ?? 1)));
    if (!exact) throw new Error(`benchmarks/aggregate: federated ${JSON.stringify(fed)} differs from single DuckDB ${JSON.stringify(pooled)}`);

    // 5. Timing, interleaved.
    recording = true;
    const stats = await measureInterleaved(
      {
        federated: async () => federatedAnswer(await client.run(JOB)),
        single: () => singleExact(singleConn, scaleBits),
        singleNaive: () => singleNaive(singleConn),
      },
      { warmup, iterations },
    );
    recording = false;
    const perAgentTaskMs = Object.fromEntries([...taskMs].sort().map(([name, xs]) => [name, summarize(xs.slice(-iterations)).p50Ms]));

    return {
      results: {
        job: JOB,
        rows,
        agents: agentCount,
        rowsPerAgent: Math.floor(rows / agentCount),
        seed,
        setupMs: { generateParquet: Math.round(generateMs), loadSingleDuckDb: Math.round(loadSingleMs), meshStartupWithIngest: Math.round(mesh.startupMs) },
        exactMatch: exact,
        answer: fed,
        naiveAvgMaxRelativeDifference: maxNaiveRelDiff,
        federated: stats.federated,
        single: stats.single,
        singleNaive: stats.singleNaive,
        perAgentTaskP50Ms: perAgentTaskMs,
        notes: [
          'federated: CoordinatorClient.run (submitJob + watchJob) end to end over mTLS on loopback, 4 agents in this process',
          'single: the same clamp, grid and exact integer sums as the agents, on one DuckDB file holding all rows, same process',
          'singleNaive: plain avg() of clamped values on the same DuckDB (no fixed-point grid), for reference only',
          'agents, coordinator and the single DuckDB share this machine\'s cores (as separate processes here would); DuckDB uses its default thread count in every instance',
          'setupMs.meshStartupWithIngest includes making development certificates with openssl and each agent ingesting its Parquet file',
          'perAgentTaskP50Ms: agent-side time from task receipt to reply (policy, SQL, Arrow encode), from the agents\' task-done events',
        ],
      },
      ratios: {
        federatedOverSingle: ratio(stats.federated.p50Ms, stats.single.p50Ms, { numerator: 'federated p50', denominator: 'single DuckDB (same SQL) p50', target: 1.5 }),
        federatedOverSingleNaive: ratio(stats.federated.p50Ms, stats.singleNaive.p50Ms, { numerator: 'federated p50', denominator: 'single DuckDB naive avg() p50' }),
        singleOverSingleNaive: ratio(stats.single.p50Ms, stats.singleNaive.p50Ms, { numerator: 'single DuckDB exact-grid p50', denominator: 'single DuckDB naive avg() p50' }),
      },
    };
  } finally {
    await mesh?.close();
    conn?.closeSync();
    single?.closeSync();
    await rm(workDir, { recursive: true, force: true });
  }
}
