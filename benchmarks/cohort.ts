/**
 * Issue 5 #8: a cohort with two inclusion rules over 1 M synthetic persons across 4 agents, versus the same cohort
 * SQL (and the same characterisation) on ONE DuckDB holding every person, in the same run; plus the end-to-end time
 * of a Kaplan–Meier job. Agents run in this process and share the machine's cores, like separate processes would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { synthesize } from '../client/tools/synth/index.js';
import { parseCohortDefinition } from '../common/cohort/index.js';
import { characterizeCohort, survivalCounts } from '../node-agent/analytics/index.js';
import { runCohort } from '../node-agent/cohort/index.js';
import { measure, ratio, startBenchMesh, type SuiteReport } from './harness.js';

const TABLES = ['person', 'observation_period', 'visit_occurrence', 'condition_occurrence', 'drug_exposure', 'measurement', 'death'];

export const BENCH_COHORT = {
  name: 'type 2 diabetes, 40+, HbA1c ≥ 6.5 in the prior year',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [
    { name: 'age 40+', type: 'age', min: 40 },
    { name: 'HbA1c ≥ 6.5 within a year before', type: 'measurement', concepts: { include: [3004410] }, valueRange: { min: 6.5 }, window: { startDays: -365, endDays: 0 } },
  ],
};

export interface CohortBenchOptions {
  /** Persons in total, split evenly over 4 agents. @default 1_000_000 */
  persons?: number;
  iterations?: number;
}

export async function runCohortBenchmark(options: CohortBenchOptions = {}): Promise<SuiteReport> {
  const persons = options.persons ?? 1_000_000;
  const iterations = options.iterations ?? 3;
  const sites = 4;
  const work = await mkdtemp(join(tmpdir(), 'fedmesh-bench-cohort-'));
  try {
    const t0 = performance.now();
    const synth = await synthesize({ outDir: join(work, 'data'), sites, persons: Math.ceil(persons / sites), seed: 11, format: 'parquet' });
    const synthMs = performance.now() - t0;

    // The pooled baseline: one DuckDB with every site's rows.
    const pooled = await DuckDBInstance.create(join(work, 'pooled.duckdb'));
    const conn = await pooled.connect();
    for (const t of [...TABLES, 'concept', 'concept_ancestor']) {
      const files = (TABLES.includes(t) ? synth.sites : synth.sites.slice(0, 1)).map((s) => `'${join(s.dir, `${t}.parquet`)}'`).join(', ');
      await conn.run(`CREATE TABLE ${t} AS SELECT * FROM read_parquet([${files}])`);
    }
    const ir = parseCohortDefinition(BENCH_COHORT);
    let singleCount = 0;
    const single = await measure(
      async () => {
        const r = await runCohort(conn, ir, { targetTable: 'bench_cohort' });
        const ch = await characterizeCohort(conn, 'bench_cohort', {});
        singleCount = Number(ch.persons);
        return r;
      },
      { warmup: 1, iterations },
    );
    const survivalSingle = await measure(
      async () => {
        await runCohort(conn, ir, { targetTable: 'bench_target' });
        return survivalCounts(conn, { targetTable: 'bench_target', outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 3650 }, strata: 'gender' });
      },
      { warmup: 1, iterations },
    );
    conn.closeSync();
    pooled.closeSync();

    const mesh = await startBenchMesh({ workDir: join(work, 'mesh'), agents: synth.sites.map((s, i) => ({ name: `agent-${i + 1}`, dataDir: s.dir })), connectTimeoutMs: 600_000 });
    try {
      let fedCount = 0;
      const federated = await measure(
        async () => {
          const job = await mesh.client.run({ kind: 'cohort', definition: BENCH_COHORT, privacy: { mode: 'none' }, timeoutMs: 600_000 });
          if (job.state !== 'succeeded') throw new Error(`cohort job failed: ${job.error?.message}`);
          fedCount = (job.result!.summary as { count: number }).count;
        },
        { warmup: 1, iterations },
      );
      const survival = await measure(
        async () => {
          const job = await mesh.client.run({ kind: 'survival', target: BENCH_COHORT, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 3650 }, strata: 'gender', privacy: { mode: 'none' }, timeoutMs: 600_000 });
          if (job.state !== 'succeeded') throw new Error(`survival job failed: ${job.error?.message}`);
        },
        { warmup: 1, iterations },
      );
      return {
        results: {
          persons,
          agents: sites,
          rows: synth.totalRows,
          synthMs: Math.round(synthMs),
          meshStartupMs: mesh.startupMs,
          cohortPersons: singleCount,
          exactMatch: fedCount === singleCount,
          federated: { p50Ms: federated.p50Ms, p95Ms: federated.p95Ms },
          single: { p50Ms: single.p50Ms, p95Ms: single.p95Ms },
          kaplanMeier: { federatedEndToEnd: { p50Ms: survival.p50Ms }, singleCountsOnly: { p50Ms: survivalSingle.p50Ms } },
          note: 'federated = cohort job (compile + run + age/gender characterisation at 4 agents, mTLS, combine); single = the same cohort SQL and characterisation on one DuckDB over all persons; agents share this process and its cores',
        },
        ratios: {
          federatedOverSingle: ratio(federated.p50Ms, single.p50Ms, { numerator: 'federated cohort job p50', denominator: 'one DuckDB p50', target: 1.5 }),
          kaplanMeierOverSingleCounts: ratio(survival.p50Ms, survivalSingle.p50Ms, { numerator: 'federated KM job p50', denominator: 'one DuckDB survival counts p50' }),
        },
      };
    } finally {
      await mesh.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
