/**
 * Suite `glm-dp` (issue 9 #2, Differential privacy: "show how far the DP fit is from the exact fit in a benchmark
 * table (ε = 0.5, 1, 4; heart disease and synthetic data)"): the same logistic model run through the real engine
 * (4 agents over mTLS, central-dp: the coordinator adds discrete Gaussian noise to every round's sums, the job's
 * ρ charged once over its public maximum of rounds) against the exact federated fit (mode none) on the same agents.
 * Per ε: the largest and the RMS coefficient error against the exact fit, the stated noise SD of the coefficients
 * (the result's `noiseStd` column, its largest entry) and the error over the stated SD; `repeats` independent runs
 * each (the noise comes from the CSPRNG, so runs differ), or the run's error when the noisy information matrix is
 * not positive definite (the job fails; counted, not hidden).
 *
 * - synthetic: 20 covariates in [−2, 2], N rows (default 400 000) over 4 agents (benchmarks/glm.ts' generator).
 * - heart disease: the UCI data of ../shared/data/fl/heart-disease/split.csv (FLamby's 13 features), one agent per
 *   centre. Switzerland (46 patients, one without disease) is refused by the glm.outcomeLevels disclosure rule at
 *   any minimum cell size above 1, so the fit names the other three centres (`agents`, 694 patients). Continuous
 *   features are published by each site in model units (age/10, trestbps/100, chol/100, thalach/100) with declared
 *   bounds, since the sensitivity grows with the square of the bounds. Skipped, and said so, without the data.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import type { JobView } from '../client/sdk/types.js';
import { writeSites } from './glm.js';
import { repoRoot, startBenchMesh, type SuiteReport } from './harness.js';

export interface GlmDpBenchmarkOptions {
  /** Synthetic rows in total over 4 agents. @default 400_000 */
  rows?: number;
  /** @default [0.5, 1, 4] */
  epsilons?: number[];
  /** Independent DP runs per ε and data set. @default 3 */
  repeats?: number;
  /** @default 1e-6 */
  delta?: number;
  /** Fisher-scoring iterations of the DP fits (the noise is spread over maxIterations + 1 public rounds). @default 8 */
  maxIterations?: number;
  log?: (line: string) => void;
}

interface DpRow {
  epsilon: number;
  runs: number;
  failed: number;
  failures: string[];
  /** Over the successful runs: mean of each run's largest |β_dp − β| and of its RMS error. */
  maxAbsErrorMean: number | null;
  rmsErrorMean: number | null;
  /** The result's stated noise SD of the coefficients (largest over terms), mean over runs. */
  statedNoiseStdMax: number | null;
  /**
   * Least-squares slope of the DP coefficients on the exact ones, Σβ_dp·β / Σβ², mean over runs: 1 without bias,
   * below 1 when the fit is shrunk towards 0 (the ridge that keeps a noisy information matrix positive definite).
   */
  slopeOnExactMean: number | null;
  /** RMS error over the RMS stated noise SD (≈ 1 when the statement is right). */
  rmsErrorOverStated: number | null;
  msMean: number | null;
}

const HEART_FEATURES: [string, string, [number, number]][] = [
  ['age10', 'age / 10', [2, 8]],
  ['sex', 'sex', [0, 1]],
  ['trestbps100', 'trestbps / 100', [0, 2.2]],
  ['chol100', 'chol / 100', [0, 6.1]],
  ['fbs', 'fbs', [0, 1]],
  ['thalach100', 'thalach / 100', [0.5, 2.1]],
  ['exang', 'exang', [0, 1]],
  ['oldpeak', 'oldpeak', [-2.6, 6.2]],
  ['cp_2', 'cp_2', [0, 1]],
  ['cp_3', 'cp_3', [0, 1]],
  ['cp_4', 'cp_4', [0, 1]],
  ['restecg_1', 'restecg_1', [0, 1]],
  ['restecg_2', 'restecg_2', [0, 1]],
];
const HEART_CENTRES = ['cleveland', 'hungary', 'switzerland', 'va'];

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const coefficients = (job: JobView): number[] => job.result!.rows.map((r) => Number(r.estimate));
const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** One CSV per centre, in model units; person_id is the row's line in the file (a public row number). */
async function writeHeartSites(csv: string, dir: string): Promise<{ name: string; dataDir: string }[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    const out: { name: string; dataDir: string }[] = [];
    for (const [c, name] of HEART_CENTRES.entries()) {
      const dataDir = join(dir, name);
      await mkdir(dataDir, { recursive: true });
      const cols = HEART_FEATURES.map(([col, expr]) => `CAST(${expr} AS DOUBLE) AS ${col}`).join(', ');
      await conn.run(`COPY (SELECT CAST(center * 100000 + line_in_raw_file_0based AS BIGINT) AS person_id, ${cols}, CAST(label_binary AS INTEGER) AS label_binary FROM read_csv(${sqlString(csv)}, header = true) WHERE center = ${c}) TO ${sqlString(join(dataDir, 'heart.csv'))} (HEADER)`);
      await writeFile(join(dataDir, 'fedmesh.products.json'), JSON.stringify({ products: { heart: { privacyUnit: 'person_id', allowedJobKinds: ['glm'], allowedPrivacyModes: ['none', 'central-dp'] } } }));
      out.push({ name, dataDir });
    }
    return out;
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

async function dpTable(mesh: Awaited<ReturnType<typeof startBenchMesh>>, spec: Record<string, unknown>, o: Required<Omit<GlmDpBenchmarkOptions, 'rows' | 'log'>>, log: (l: string) => void, label: string): Promise<{ exact: { coefficients: number[]; rounds: number; ms: number }; table: DpRow[] }> {
  const t0 = performance.now();
  const ex = await mesh.client.run(spec);
  const exactMs = performance.now() - t0;
  if (ex.state !== 'succeeded') throw new Error(`glm-dp ${label}: the exact fit failed: ${JSON.stringify(ex.error)}`);
  const exact = coefficients(ex);
  const table: DpRow[] = [];
  for (const epsilon of o.epsilons) {
    const maxAbs: number[] = [];
    const rms: number[] = [];
    const stated: number[] = [];
    const statedRms: number[] = [];
    const ms: number[] = [];
    const slopes: number[] = [];
    const failures: string[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const t1 = performance.now();
      const j = await mesh.client.run({ ...spec, maxIterations: o.maxIterations, privacy: { mode: 'central-dp', epsilon, delta: o.delta } });
      if (j.state !== 'succeeded') {
        failures.push(`${j.error?.code ?? '?'}: ${(j.error?.message ?? '').slice(0, 160)}`);
        continue;
      }
      ms.push(performance.now() - t1);
      const dpBeta = coefficients(j);
      const err = dpBeta.map((b, i) => b - exact[i]!);
      slopes.push(dpBeta.reduce((a, b, i) => a + b * exact[i]!, 0) / exact.reduce((a, b) => a + b * b, 0));
      maxAbs.push(Math.max(...err.map(Math.abs)));
      rms.push(Math.sqrt(err.reduce((a, e) => a + e * e, 0) / err.length));
      const noise = j.result!.rows.map((row) => Number((row as { noiseStd?: unknown }).noiseStd)).filter((x) => Number.isFinite(x));
      if (noise.length) {
        stated.push(Math.max(...noise));
        statedRms.push(Math.sqrt(noise.reduce((a, s) => a + s * s, 0) / noise.length));
      }
    }
    const rmsMean = mean(rms);
    const statedRmsMean = mean(statedRms);
    const row: DpRow = {
      epsilon,
      runs: o.repeats,
      failed: failures.length,
      failures,
      maxAbsErrorMean: mean(maxAbs),
      rmsErrorMean: rmsMean,
      statedNoiseStdMax: mean(stated),
      slopeOnExactMean: mean(slopes),
      rmsErrorOverStated: rmsMean !== null && statedRmsMean ? rmsMean / statedRmsMean : null,
      msMean: ms.length ? Math.round(mean(ms)!) : null,
    };
    table.push(row);
    log(`  glm-dp ${label} ε=${epsilon}: ${o.repeats - failures.length}/${o.repeats} runs, mean max |β_dp − β| ${row.maxAbsErrorMean?.toExponential(2) ?? '–'}, RMS ${row.rmsErrorMean?.toExponential(2) ?? '–'}, stated SD ≤ ${row.statedNoiseStdMax?.toExponential(2) ?? '–'}, slope on exact ${row.slopeOnExactMean?.toFixed(3) ?? '–'}`);
  }
  return { exact: { coefficients: exact, rounds: Number((ex.result!.summary as { rounds: number }).rounds), ms: Math.round(exactMs) }, table };
}

export async function runGlmDpBenchmark(options: GlmDpBenchmarkOptions = {}): Promise<SuiteReport> {
  const rows = options.rows ?? 400_000;
  const o = { epsilons: options.epsilons ?? [0.5, 1, 4], repeats: options.repeats ?? 3, delta: options.delta ?? 1e-6, maxIterations: options.maxIterations ?? 8 };
  const log = options.log ?? ((line: string) => console.log(line));
  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-glm-dp-'));
  const budget = { epsilon: 1000, delta: 1e-3 };
  const results: Record<string, unknown> = { epsilons: o.epsilons, delta: o.delta, repeats: o.repeats, maxIterations: o.maxIterations, roundsCharged: o.maxIterations + 1 };
  try {
    // Synthetic.
    const k = 20;
    const sites = await writeSites(join(workDir, 'synthetic'), rows, 4, k);
    let mesh = await startBenchMesh({ workDir: join(workDir, 'mesh-synthetic'), agents: sites.map((s, i) => ({ name: `site-${i + 1}`, dataDir: s.dataDir })), allowKinds: ['glm'], allowModes: ['none', 'central-dp'], budget, connectTimeoutMs: 600_000, livenessTimeoutMs: 30 * 60_000 });
    try {
      const spec = { kind: 'glm', product: 'study', family: 'binomial', outcome: 'y', covariates: Array.from({ length: k }, (_, j) => ({ column: `x${j + 1}`, type: 'numeric', bounds: [-2, 2] })), privacy: { mode: 'none' }, timeoutMs: 600_000 };
      results.synthetic = { rows, agents: 4, covariates: k, ...(await dpTable(mesh, spec, o, log, 'synthetic')) };
    } finally {
      await mesh.close();
    }
    // Heart disease.
    const csv = resolve(repoRoot(), '../shared/data/fl/heart-disease/split.csv');
    if (!existsSync(csv)) {
      log(`  glm-dp: heart disease skipped: ${csv} not found (../shared/data is absent)`);
      results.heartDisease = { skipped: `${csv} not found` };
    } else {
      const heart = await writeHeartSites(csv, join(workDir, 'heart'));
      mesh = await startBenchMesh({ workDir: join(workDir, 'mesh-heart'), agents: heart, allowKinds: ['glm'], allowModes: ['none', 'central-dp'], budget });
      try {
        const agents = HEART_CENTRES.filter((c) => c !== 'switzerland');
        const spec = { kind: 'glm', product: 'heart', family: 'binomial', outcome: 'label_binary', agents, covariates: HEART_FEATURES.map(([column, , bounds]) => ({ column, type: 'numeric', bounds })), privacy: { mode: 'none' } };
        results.heartDisease = { agents, patients: 694, covariates: HEART_FEATURES.map(([c, expr, b]) => ({ column: c, definition: expr, bounds: b })), ...(await dpTable(mesh, spec, o, log, 'heart disease')) };
      } finally {
        await mesh.close();
      }
    }
    results.note = `agents and coordinator share one process (load average ${os.loadavg()[0]!.toFixed(1)} at the end); each ε's figures are means over independent runs of the CSPRNG noise; errors are against the exact federated fit on the same agents (mode none)`;
    return { results, ratios: {} };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
