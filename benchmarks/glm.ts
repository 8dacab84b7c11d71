/**
 * Suite `glm` (issue 9 #5): logistic regression with 20 covariates on N synthetic rows (default 10 M) split over
 * 4 agents over mTLS through the real engine (client → coordinator round runner → agents' kind task runner →
 * DuckDB design read once per job → one Fisher-scoring pass per round), versus the same IRLS on ONE DuckDB holding
 * all N rows in this process (the same design reader, jobs/glm/design.ts, then algorithms/glm's pooled fit), in the
 * same run. Target: federated / pooled ≤ 1.5. Also: iterations, bytes per agent per round, the secure (secagg)
 * variant's ratio to the plaintext one, and a DP-vs-exact table (central-dp, ε = 0.5, 1, 4, δ = 1e-6: the largest
 * and the RMS coefficient error against the exact federated fit, and the stated coefficient noise).
 *
 * All agents live in this process and share its one JavaScript thread and the machine's cores with each other and
 * the coordinator; on a real mesh each site brings its own cores, so the federated time here is an upper bound.
 * Synthetic data only (DuckDB's seeded random(), never used for privacy).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { fitPooled, glmFamily, glmStatLength } from '../algorithms/glm/index.js';
import type { JobView } from '../client/types.js';
import { readGlmDesign } from '../jobs/glm/design.js';
import { parseGlmSpec } from '../jobs/glm/spec.js';
import { ratio, startBenchMesh, type SuiteReport } from './harness.js';

export interface GlmBenchmarkOptions {
  /** Rows in total, split evenly over the agents. @default 10_000_000 */
  rows?: number;
  /** @default 4 */
  agents?: number;
  /** Covariates (plus the intercept). @default 20 */
  covariates?: number;
  /** ε values of the DP table. @default [0.5, 1, 4] */
  epsilons?: number[];
  /** Also run the secagg variant. @default true */
  secure?: boolean;
  log?: (line: string) => void;
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** True coefficients: intercept −0.3, then alternating ±(0.05 … 0.4). */
function trueBeta(k: number): number[] {
  return [-0.3, ...Array.from({ length: k }, (_, j) => (j % 2 === 0 ? 1 : -1) * (0.05 + (0.35 * j) / Math.max(1, k - 1)))];
}

/** One Parquet file per agent: person_id, x1 … xk in [−2, 2] (3 decimals), y ~ Bernoulli(logistic(xβ)). */
async function writeSites(dir: string, rows: number, agents: number, k: number): Promise<{ dataDir: string; file: string }[]> {
  const beta = trueBeta(k);
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const out: { dataDir: string; file: string }[] = [];
  try {
    const per = Math.floor(rows / agents);
    for (let a = 0; a < agents; a++) {
      const from = a * per;
      const n = a === agents - 1 ? rows - per * (agents - 1) : per;
      const dataDir = join(dir, `site-${a + 1}`);
      await mkdir(dataDir, { recursive: true });
      const file = join(dataDir, 'study.parquet');
      const xs = Array.from({ length: k }, (_, j) => `round(random() * 4 - 2, 3)::DOUBLE AS x${j + 1}`).join(', ');
      const eta = `${beta[0]} + ${Array.from({ length: k }, (_, j) => `${beta[j + 1]} * x${j + 1}`).join(' + ')}`;
      await conn.run(`SELECT setseed(${(a + 1) / 10})`);
      await conn.run(`COPY (SELECT *, (random() < 1 / (1 + exp(-(${eta}))))::INTEGER AS y FROM (SELECT i AS person_id, ${xs} FROM range(${from}, ${from + n}) r(i))) TO ${sqlString(file)} (FORMAT parquet)`);
      await writeFile(join(dataDir, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['glm'], allowedPrivacyModes: ['none', 'central-dp'] } } }));
      out.push({ dataDir, file });
    }
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
  return out;
}

const coefficients = (job: JobView): number[] => job.result!.rows.map((r) => Number(r.estimate));

export async function runGlmBenchmark(options: GlmBenchmarkOptions = {}): Promise<SuiteReport> {
  const rows = options.rows ?? 10_000_000;
  const agentCount = options.agents ?? 4;
  const k = options.covariates ?? 20;
  const epsilons = options.epsilons ?? [0.5, 1, 4];
  const log = options.log ?? ((line: string) => console.log(line));
  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-glm-'));
  const spec = {
    kind: 'glm',
    product: 'study',
    family: 'binomial',
    outcome: 'y',
    covariates: Array.from({ length: k }, (_, j) => ({ column: `x${j + 1}`, type: 'numeric', bounds: [-2, 2] })),
    privacy: { mode: 'none' },
    timeoutMs: 600_000,
  };
  const terms = ['(Intercept)', ...Array.from({ length: k }, (_, j) => `x${j + 1}`)];
  let mesh: Awaited<ReturnType<typeof startBenchMesh>> | undefined;
  try {
    const t0 = performance.now();
    const sites = await writeSites(join(workDir, 'data'), rows, agentCount, k);
    const generateMs = performance.now() - t0;
    log(`  glm: ${rows} rows written in ${Math.round(generateMs)} ms`);

    // Pooled: one DuckDB over all rows, the same design reader, one process's Fisher scoring.
    const single = await DuckDBInstance.create(':memory:');
    const conn = await single.connect();
    let pooledMs: number;
    let pooledReadMs: number;
    let pooledEstimates: number[];
    try {
      await conn.run(`CREATE TABLE study AS SELECT * FROM read_parquet([${sites.map((s) => sqlString(s.file)).join(', ')}])`);
      const columns = [{ name: 'person_id', type: 'BIGINT' }, ...Array.from({ length: k }, (_, j) => ({ name: `x${j + 1}`, type: 'DOUBLE' })), { name: 'y', type: 'INTEGER' }];
      const t1 = performance.now();
      const design = await readGlmDesign(conn, parseGlmSpec(spec), { name: 'study', columns, privacyUnit: 'person_id' }, { salt: 'bench', minCellSize: 5, scratch: 'bench' });
      pooledReadMs = performance.now() - t1;
      const fit = fitPooled(design.design, glmFamily('binomial'), terms);
      pooledMs = performance.now() - t1;
      pooledEstimates = fit.summary.coefficients.map((c) => c.estimate);
    } finally {
      conn.closeSync();
      single.closeSync();
    }
    log(`  glm: pooled (one DuckDB, read + IRLS) ${Math.round(pooledMs)} ms`);

    mesh = await startBenchMesh({ workDir, agents: sites.map((s, i) => ({ name: `site-${i + 1}`, dataDir: s.dataDir })), allowKinds: ['glm'], allowModes: ['none', 'central-dp'], budget: { epsilon: 100, delta: 1e-3 }, connectTimeoutMs: 600_000, livenessTimeoutMs: 30 * 60_000 });
    const t2 = performance.now();
    const fed = await mesh.client.run(spec);
    const federatedMs = performance.now() - t2;
    if (fed.state !== 'succeeded') throw new Error(`glm benchmark job failed: ${JSON.stringify(fed.error)}`);
    const summary = fed.result!.summary as { rounds: number; iterations: number; nUsed: number };
    const exact = coefficients(fed);
    const maxAbsDiffToPooled = Math.max(...exact.map((b, j) => Math.abs(b - pooledEstimates[j]!)));
    log(`  glm: federated ${Math.round(federatedMs)} ms, ${summary.rounds} rounds, max |Δβ| to pooled ${maxAbsDiffToPooled.toExponential(2)}`);

    let secure: { ms: number; identicalToPlain: boolean } | undefined;
    if (options.secure ?? true) {
      const t3 = performance.now();
      const sj = await mesh.client.run({ ...spec, secure: 'secagg' });
      const ms = performance.now() - t3;
      if (sj.state !== 'succeeded') throw new Error(`glm secagg benchmark job failed: ${JSON.stringify(sj.error)}`);
      secure = { ms, identicalToPlain: coefficients(sj).every((b, j) => b === exact[j]) };
      log(`  glm: secagg ${Math.round(ms)} ms, identical to plain: ${String(secure.identicalToPlain)}`);
    }

    const dp: { epsilon: number; delta: number; rounds: number; maxAbsError: number; rmsError: number; statedCoefficientNoiseStdMax: number | null; ms: number }[] = [];
    for (const epsilon of epsilons) {
      const t4 = performance.now();
      const j = await mesh.client.run({ ...spec, maxIterations: 8, privacy: { mode: 'central-dp', epsilon, delta: 1e-6 } });
      const ms = performance.now() - t4;
      if (j.state !== 'succeeded') throw new Error(`glm central-dp ε=${epsilon} failed: ${JSON.stringify(j.error)}`);
      const b = coefficients(j);
      const err = b.map((x, i) => x - exact[i]!);
      const noise = j.result!.rows.map((r) => Number((r as { noiseStd?: unknown }).noiseStd)).filter((x) => Number.isFinite(x));
      dp.push({ epsilon, delta: 1e-6, rounds: Number((j.result!.summary as { rounds: number }).rounds), maxAbsError: Math.max(...err.map(Math.abs)), rmsError: Math.sqrt(err.reduce((a, e) => a + e * e, 0) / err.length), statedCoefficientNoiseStdMax: noise.length ? Math.max(...noise) : null, ms: Math.round(ms) });
      log(`  glm: central-dp ε=${epsilon}: max |β_dp − β| ${dp.at(-1)!.maxAbsError.toExponential(2)}`);
    }

    const p = k + 1;
    const results = {
      rows,
      agents: agentCount,
      covariates: k,
      generateMs: Math.round(generateMs),
      pooled: { ms: Math.round(pooledMs), readMs: Math.round(pooledReadMs) },
      federated: { ms: Math.round(federatedMs), rounds: summary.rounds, fisherIterations: summary.iterations, nUsed: summary.nUsed, replyBytesPerAgentPerRound: (glmStatLength(p) + 1) * 8 },
      maxAbsDiffToPooled,
      ...(secure ? { secagg: { ms: Math.round(secure.ms), identicalToPlain: secure.identicalToPlain } } : {}),
      dpVsExact: dp,
      note: 'agents, coordinator and the pooled fit share one process and its cores; DP runs capped at maxIterations 8 (the noise is charged over the public maximum of rounds)',
    };
    return {
      results,
      ratios: {
        federatedOverPooled: ratio(federatedMs, pooledMs, { numerator: 'federated glm (4 agents, mTLS, end to end)', denominator: 'pooled IRLS on one DuckDB (read + fit)', target: 1.5 }),
        ...(secure ? { secaggOverPlain: ratio(secure.ms, federatedMs, { numerator: 'federated glm with secure secagg', denominator: 'federated glm, plain sums' }) } : {}),
      },
    };
  } finally {
    await mesh?.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
