/**
 * The benchmark entry point: `node dist/benchmarks/run.js [suite ...] [--quick] [--out DIR]` (`npm run bench`
 * runs every suite at full size). Each suite writes one JSON file (`<out>/<suite>.json`, default
 * `benchmarks/results/`) stating the machine, the commit and its ratios to baselines measured in the same run;
 * a summary table goes to stdout. `--quick` runs small smoke sizes and writes to a temporary folder unless
 * `--out` is given, so quick figures never overwrite real ones.
 *
 * Exit status: 0 when every selected suite ran (a missed target is a finding, printed, not a crash); 1 when a
 * suite failed; 2 for bad arguments.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runAggregateBenchmark } from './aggregate.js';
import { runCohortBenchmark } from './cohort.js';
import { runPostgresBenchmark } from './postgres.js';
import { runDpBenchmarks } from './dp.js';
import { runGlmBenchmark } from './glm.js';
import { runGlmDpBenchmark } from './glm-dp.js';
import { runTrainSuite } from './train.js';
import { commitInfo, defaultResultsDir, machineInfo, ratio, startResult, writeResult, type Ratio, type SuiteReport } from './harness.js';
import { runHeBenchmarks } from './he.js';
import { runLatencyBenchmark } from './latency.js';
import { runSecAggBenchmarks } from './secagg.js';
import { runSecureBenchmark } from './secure.js';
import { runSurvivalDpBenchmark } from './survival-dp.js';
import { runStartupBenchmark } from './startup.js';

interface Suite {
  name: string;
  what: string;
  /** Undefined when the suite has no smoke size: `--quick` then leaves it out unless it is named. */
  quick?: (outDir: string) => Promise<SuiteReport>;
  /** `outDir`: where the JSON goes; a suite may write a plot beside it. */
  full: (outDir: string) => Promise<SuiteReport>;
  /** One line of absolute figures for the summary. */
  headline: (r: SuiteReport) => string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** secagg returns plain figures: its ratio is bytes sent per agent over the plaintext bytes (issue 4: ≤ 2). */
function secaggReport(r: Json): SuiteReport {
  const ratios: Record<string, Ratio> = {};
  const sent = num(obj(r.bytesSentPerAgent).mean);
  const plain = num(r.plaintextBytesPerAgent);
  if (sent > 0 && plain > 0) ratios.bytesOverPlaintext = ratio(sent, plain, { numerator: 'secagg bytes sent per agent (mean)', denominator: 'plaintext bytes per agent', target: 2 });
  const dropped = obj(r.withDropouts);
  const coord = num(r.coordinatorMs);
  const coordDrop = num(dropped.coordinatorMs);
  if (coord > 0 && coordDrop > 0) ratios.coordinatorWithDropoutsOverWithout = ratio(coordDrop, coord, { numerator: 'coordinator ms with n − t dropouts', denominator: 'coordinator ms, no dropout' });
  const carried = obj(r.carriedTwoLimbIntegers);
  const carriedCoord = num(carried.coordinatorMs);
  const warm = obj(carried.limbwiseWarm);
  const limbCoord = num(warm.coordinatorMs);
  if (limbCoord > 0 && carriedCoord > 0) ratios.carriedOverLimbwiseCoordinator = ratio(carriedCoord, limbCoord, { numerator: 'coordinator ms, entries as 2-limb integers (carries)', denominator: 'coordinator ms, every limb its own element (warm, mean of the runs before and after)' });
  const carriedAgent = num(obj(carried.perAgentComputeMs).mean);
  const agentMs = num(warm.perAgentComputeMsMean);
  if (agentMs > 0 && carriedAgent > 0) ratios.carriedOverLimbwiseAgent = ratio(carriedAgent, agentMs, { numerator: 'agent ms (mean), entries as 2-limb integers', denominator: 'agent ms (mean), every limb its own element' });
  return { results: r, ratios };
}

/** he returns its ratios as plain numbers; the framework-over-raw one has the target of issue 4 (≤ 1.2). */
function heReport(r: Json): SuiteReport {
  const { ratios: raw, ...results } = r;
  const ratios: Record<string, Ratio> = {};
  for (const [k, v] of Object.entries(obj(raw))) {
    if (typeof v !== 'number') continue;
    ratios[k] = { value: v, numerator: k.split('Over')[0] ?? k, denominator: k.split('Over')[1] ?? '', ...(k === 'frameworkOverRaw' ? { target: 1.2, met: v <= 1.2 } : {}) };
  }
  return { results, ratios };
}

/** dp reports accuracy next to theory: its ratios are empirical RMSE over the mechanism's theoretical RMSE. */
function dpReport(r: Json): SuiteReport {
  const ratios: Record<string, Ratio> = {};
  for (const row of Array.isArray(r.accuracy) ? (r.accuracy as unknown[]) : []) {
    const o = obj(row);
    const emp = num(obj(o.empirical).rmse);
    const theory = num(obj(o.theoretical).rmse);
    if (!(emp >= 0) || !(theory > 0)) continue;
    const stat = String(o.statistic ?? '?').split(' ')[0];
    const noise = String(o.noise ?? '').includes('laplace') ? 'laplace' : 'gaussian';
    ratios[`rmseOverTheory.${stat}.${noise}.eps${String(o.epsilon)}`] = ratio(emp, theory, { numerator: 'empirical RMSE', denominator: 'theoretical RMSE' });
  }
  return { results: r, ratios };
}

const MAX_TABLE_RATIOS = 6;
const fmt = (x: unknown): string => (typeof x === 'number' ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3)) : String(x));

const SUITES: Suite[] = [
  {
    name: 'train',
    what: 'issue 10: FedAvg logistic model, 4 agents × 5 000 synthetic rows, 10 rounds through the round runner vs the same model pooled on one worker; the MLP 100k target; reply bytes per agent per round over mTLS (plain, secagg); wasm vs cpu epoch',
    quick: () => runTrainSuite({ mlpRounds: 0, logistic: { rowsPerAgent: 1_000, rounds: 3 }, wire: { rowsPerAgent: 400, rounds: 2 }, backendRows: 2_000 }),
    full: () => runTrainSuite({ mlpRounds: Number(process.env.FEDMESH_BENCH_TRAIN_ROUNDS ?? 3) }),
    headline: (r) =>
      `federated ${fmt(obj(r.results.federated).ms)} ms (AUC ${fmt(obj(r.results.federated).testAuc)}) vs pooled ${fmt(obj(r.results.pooled).ms)} ms (AUC ${fmt(obj(r.results.pooled).testAuc)})${r.results.mlp100k ? `; MLP 100k×30: federated ${fmt(obj(obj(r.results.mlp100k).federated).ms)} ms vs pooled ${fmt(obj(obj(r.results.mlp100k).pooled).ms)} ms` : ''}` +
      `${r.results.wire ? `; reply bytes/agent/round plain ${fmt(obj(obj(r.results.wire).plain).bytesPerAgentPerRound)}, secagg ${fmt(obj(obj(r.results.wire).secagg).bytesPerAgentPerRound)}` : ''}${r.ratios.backendCpuOverWasm ? `; cpu/wasm epoch ${fmt(r.ratios.backendCpuOverWasm.value)}` : ''}`,
  },
  {
    name: 'glm',
    what: 'issue 9 #5: logistic regression, 20 covariates, 10 M rows over 4 agents over mTLS vs the same IRLS on one DuckDB; secagg variant; reply bytes per agent per round (the DP table is suite glm-dp)',
    quick: () => runGlmBenchmark({ rows: 40_000, epsilons: [1] }),
    // FEDMESH_BENCH_GLM_ROWS: a smaller full run on a loaded machine (10 M rows take over an hour with every variant).
    full: () => runGlmBenchmark({ rows: Number(process.env.FEDMESH_BENCH_GLM_ROWS ?? 10_000_000) }),
    headline: (r) => {
      const x = r.results;
      const dp = Array.isArray(x.dpVsExact) ? (x.dpVsExact as Json[]).map((d) => `ε ${fmt(d.epsilon)}: max |Δβ| ${fmt(d.maxAbsError)}`).join(', ') : '';
      return `federated ${fmt(obj(x.federated).ms)} ms (${fmt(obj(x.federated).rounds)} rounds, ${fmt(obj(x.federated).replyBytesPerAgentPerRound)} B/agent/round) vs pooled ${fmt(obj(x.pooled).ms)} ms over ${fmt(x.rows)} rows; secagg ${fmt(obj(x.secagg).ms)} ms (${fmt(obj(x.secagg).replyBytesPerAgentPerRound)} B/agent/round, max |Δβ| to plain ${fmt(obj(x.secagg).maxAbsDiffToPlain)})${dp ? `; ${dp}` : ''}`;
    },
  },
  {
    name: 'glm-dp',
    what: 'issue 9 #2: central-dp glm vs the exact federated fit, ε 0.5, 1, 4 (synthetic 400 000 rows × 20 covariates over 4 agents; UCI heart disease, 3 centres)',
    quick: () => runGlmDpBenchmark({ rows: 20_000, epsilons: [1], repeats: 1 }),
    full: () => runGlmDpBenchmark(),
    headline: (r) => {
      const t = (d: unknown): string => (Array.isArray(obj(d).table) ? (obj(d).table as Json[]).map((x) => `ε ${fmt(x.epsilon)}: RMS ${fmt(x.rmsErrorMean)}`).join(', ') : 'skipped');
      return `synthetic ${t(r.results.synthetic)}; heart disease ${t(r.results.heartDisease)}`;
    },
  },
  {
    name: 'startup',
    what: 'issue 14 #14: `fedmesh --help` and client command start-up, fresh processes, vs `node -e \'\'`',
    quick: () => runStartupBenchmark({ warmup: 1, iterations: 3 }),
    full: () => runStartupBenchmark(),
    headline: (r) => `--help p50 ${fmt(obj(r.results.help).p50Ms)} ms, client modules p50 ${fmt(obj(r.results.clientCommandModules).p50Ms)} ms, node -e '' p50 ${fmt(obj(r.results.nodeBaseline).p50Ms)} ms`,
  },
  {
    name: 'aggregate',
    what: 'issue 2 #12a: grouped count + mean, 10 M rows, 4 agents over mTLS vs one DuckDB',
    quick: () => runAggregateBenchmark({ rows: 40_000, warmup: 1, iterations: 3 }),
    full: () => runAggregateBenchmark(),
    headline: (r) => {
      const x = r.results;
      return `federated p50 ${fmt(obj(x.federated).p50Ms)} ms, single DuckDB p50 ${fmt(obj(x.single).p50Ms)} ms over ${fmt(x.rows)} rows; exact match: ${String(x.exactMatch)}`;
    },
  },
  {
    name: 'latency',
    what: 'issue 2 #12b: small count job across 4 agents over mTLS, end to end',
    quick: () => runLatencyBenchmark({ warmup: 3, iterations: 20 }),
    full: () => runLatencyBenchmark(),
    headline: (r) => {
      const c = obj(r.results.countJob);
      return `count job p50 ${fmt(c.p50Ms)} ms, p95 ${fmt(c.p95Ms)} ms; listAgents p50 ${fmt(obj(r.results.listAgentsRoundTrip).p50Ms)} ms`;
    },
  },
  {
    name: 'secagg',
    what: 'issue 4 #7: secure aggregation round, 10 agents × 100,000 elements (in process)',
    quick: async () => secaggReport(await runSecAggBenchmarks({ agents: 4, length: 1000 })),
    full: async () => secaggReport(await runSecAggBenchmarks()),
    headline: (r) => `bytes/agent ${fmt(obj(r.results.bytesSentPerAgent).mean)}, coordinator ${fmt(r.results.coordinatorMs)} ms, exact: ${String(r.results.exactSum)}`,
  },
  {
    name: 'dp',
    what: 'issue 3 #8: exact sampler throughput and accuracy against epsilon',
    full: async () => dpReport(await runDpBenchmarks()),
    headline: (r) => `${Array.isArray(r.results.accuracy) ? r.results.accuracy.length : 0} accuracy rows in ${fmt(r.results.durationSeconds)} s`,
  },
  {
    name: 'survival-dp',
    what: 'issue 14 #3: DP Kaplan–Meier error against ε (bias and mean |error|), cumulative projection vs old per-bin clamp; SVG plot beside the JSON',
    quick: (outDir) => runSurvivalDpBenchmark(outDir, 50),
    full: (outDir) => runSurvivalDpBenchmark(outDir),
    headline: (r) => `${Array.isArray(r.results.rows) ? r.results.rows.length : 0} rows, plot ${String(r.results.plot)}`,
  },
  {
    name: 'he',
    what: 'issue 4 #7: BFV via node-seal, 10 agents × 100,000 elements, framework vs raw',
    quick: async () => heReport(await runHeBenchmarks({ agents: 3, length: 1000 })),
    full: async () => heReport(await runHeBenchmarks()),
    headline: (r) => `raw encrypt ${fmt(obj(r.results.raw).encryptMs)} ms, end to end ${fmt(obj(r.results.framework).endToEndMs)} ms, exact: ${String(r.results.exact)}`,
  },
  {
    name: 'secure',
    what: 'issue 4 #7 end to end: aggregate job with a 100,100-element public vector, 10 agents over mTLS: plaintext vs secagg vs he',
    quick: () => runSecureBenchmark({ agents: 3, groups: 4, bins: 50, rowsPerAgent: 200, iterations: 1 }),
    full: () => runSecureBenchmark({ onRun: (mode, run, ms) => console.log(`  ${mode} ${run === 0 ? 'warm-up' : `run ${run}`}: ${Math.round(ms)} ms`) }),
    headline: (r) => {
      const x = r.results;
      const e = (m: string): string => fmt(obj(x[m]).endToEndMs);
      return `end to end plaintext ${e('plaintext')} ms, secagg ${e('secagg')} ms, he ${e('he')} ms over ${fmt(x.vectorLength)} elements; exact across modes: ${String(x.exactAcrossModes)}`;
    },
  },
  {
    name: 'cohort',
    what: 'issue 5 #8: cohort with two inclusion rules over 1 M persons, 4 agents vs one DuckDB; Kaplan–Meier end to end',
    quick: () => runCohortBenchmark({ persons: 4000, iterations: 2 }),
    full: () => runCohortBenchmark(),
    headline: (r) => `federated p50 ${fmt(obj(r.results.federated).p50Ms)} ms, single DuckDB p50 ${fmt(obj(r.results.single).p50Ms)} ms; KM job p50 ${fmt(obj(obj(r.results.kaplanMeier).federatedEndToEnd).p50Ms)} ms; exact: ${String(r.results.exactMatch)}`,
  },
  {
    name: 'postgres',
    what: 'issue 13: the cohort benchmark\'s queries on PostgreSQL 15 vs DuckDB over the same 1 M synthetic persons (needs the postgresql package)',
    quick: () => runPostgresBenchmark({ persons: 5000, iterations: 2 }),
    full: () => runPostgresBenchmark({ log: (l) => console.log(`  ${l}`) }),
    headline: (r) => `PostgreSQL p50 ${fmt(obj(r.results.postgres).p50Ms)} ms, DuckDB p50 ${fmt(obj(r.results.duckdb).p50Ms)} ms (${fmt(r.ratios.postgresOverDuckdb?.value)}×); aggregate pushed down ${fmt(r.ratios.aggregatePostgresOverDuckdb?.value)}× (exact: ${String(obj(r.results.aggregate).exactMatch)}); without indexes ${fmt(obj(r.results.postgresWithoutIndexes).p50Ms)} ms; selective cohort PostgreSQL ${fmt(obj(obj(r.results.selectiveCohort).postgres).p50Ms)} ms vs DuckDB ${fmt(obj(obj(r.results.selectiveCohort).duckdb).p50Ms)} ms, without indexes ${fmt(r.ratios.selectiveWithoutOverWithIndexes?.value)}× slower; glm round streamed ${fmt(obj(r.results.glmRound).postgresStreamedP50Ms)} ms vs kept ${fmt(obj(r.results.glmRound).duckdbCachedP50Ms)} ms (exact: ${String(obj(r.results.glmRound).exactMatch)}); train round streamed ${fmt(obj(r.results.trainRound).postgresStreamedP50Ms)} ms vs kept ${fmt(obj(r.results.trainRound).duckdbKeptP50Ms)} ms (streamed DuckDB = PostgreSQL: ${String(obj(r.results.trainRound).streamedExactMatch)}); exact: ${String(r.results.exactMatch)}`,
  },
];

/** Other names of suites (issue 10 names the train suite `fl`); results still go to `<suite>.json`. */
const ALIASES: ReadonlyMap<string, string> = new Map([['fl', 'train']]);

interface Args {
  suites: Suite[];
  quick: boolean;
  outDir: string | undefined;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const names: string[] = [];
  let quick = false;
  let outDir: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--out') {
      outDir = argv[++i];
      if (!outDir) throw new RangeError('--out needs a folder');
    } else if (a.startsWith('--')) throw new RangeError(`unknown option ${a}`);
    else names.push(ALIASES.get(a) ?? a);
  }
  for (const n of names) {
    if (!SUITES.some((s) => s.name === n)) throw new RangeError(`unknown suite ${JSON.stringify(n)} (known: ${SUITES.map((s) => s.name).join(', ')}; aliases: ${aliasList()})`);
  }
  const picked = names.length > 0 ? SUITES.filter((s) => names.includes(s.name)) : quick ? SUITES.filter((s) => s.quick !== undefined) : SUITES;
  return { suites: picked, quick, outDir, help };
}

function aliasList(): string {
  return [...ALIASES].map(([a, n]) => `${a} = ${n}`).join(', ');
}

const USAGE = `usage: node dist/benchmarks/run.js [suite ...] [--quick] [--out DIR]
  suites (default: all): ${SUITES.map((s) => s.name).join(', ')} (aliases: ${aliasList()})
  --quick   small smoke sizes (suites without one, e.g. dp, are left out unless named, then run in full);
            results go to a temporary folder unless --out is given
  --out DIR folder for the result JSON files (default: benchmarks/results/)`;

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const outDir = args.outDir ?? (args.quick ? mkdtempSync(join(tmpdir(), 'fedmesh-bench-quick-')) : defaultResultsDir());
  const m = machineInfo();
  const c = commitInfo();
  console.log(`fedmesh benchmarks${args.quick ? ' (quick)' : ''}: ${args.suites.map((s) => s.name).join(', ')}`);
  console.log(`machine: ${m.cpuCount} × ${m.cpuModel}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node} ${m.platform}/${m.arch}`);
  console.log(`commit: ${c.sha ?? 'unknown'}${c.dirty ? ` (dirty: ${c.changedPaths} paths)` : ''}\nresults: ${outDir}\n`);

  const table: string[][] = [['suite', 'ratio', 'value', 'target', '']];
  const lines: string[] = [];
  let failed = 0;
  for (const suite of args.suites) {
    // With --quick a suite without a smoke size is in the list only when named: it then runs in full.
    const run = args.quick ? (suite.quick ?? suite.full) : suite.full;
    console.log(`▶ ${suite.name}: ${suite.what}`);
    const envelope = startResult(suite.name);
    const t0 = performance.now();
    try {
      const report = await run(outDir);
      const path = await writeResult(suite.name, { ...report, startedAt: envelope.startedAt, loadAverageAtStart: envelope.loadAverageAtStart }, { dir: outDir });
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      lines.push(`${suite.name} (${secs} s, load ${envelope.loadAverageAtStart} at start): ${suite.headline(report)} → ${path}`);
      const entries = Object.entries(report.ratios);
      // A long list (dp: one per statistic and ε) is summarised; the file holds every entry.
      const shown = entries.length > MAX_TABLE_RATIOS ? entries.filter(([, r]) => r.target !== undefined) : entries;
      for (const [k, r] of shown) {
        table.push([suite.name, k, fmt(r.value), r.target === undefined ? '' : `≤ ${r.target}`, r.met === undefined ? '' : r.met ? 'met' : 'MISSED']);
      }
      if (shown.length < entries.length) {
        const values = entries.map(([, r]) => r.value);
        table.push([suite.name, `${entries.length - shown.length} more ratios`, `${fmt(Math.min(...values))} … ${fmt(Math.max(...values))}`, '', '']);
      }
    } catch (e) {
      failed++;
      lines.push(`${suite.name}: FAILED after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(e as Error).stack ?? String(e)}`);
    }
  }
  console.log(`\n${lines.join('\n')}\n\n${pad(table)}`);
  if (args.quick) console.log('\n(quick sizes: smoke figures only, not comparable with full runs)');
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
