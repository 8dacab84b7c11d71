/**
 * The benchmark harness: what every result file states (machine, commit, start time), timing with warm-up and
 * percentiles, ratios to a baseline measured in the same run, result files, and an in-process mesh (coordinator
 * plus agents over mTLS) for the suites that run jobs through the real engine.
 *
 * These machines are shared and noisy: absolute times move from run to run, so every suite reports a ratio to
 * a baseline it measured itself, interleaved with the thing measured. Compare ratios across runs, not times.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { arch, cpus, loadavg, platform, release, totalmem, availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { makeDevCertificates } from '../client/tools/certs.js';
import { CoordinatorClient } from '../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../common/tls.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../coordinator/index.js';
import { Agent } from '../node-agent/index.js';

// ---------------------------------------------------------------------------------------------------------
// What a result states about where it was measured

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  availableParallelism: number;
  totalMemoryBytes: number;
  node: string;
  platform: string;
  arch: string;
  osRelease: string;
}

export interface CommitInfo {
  /** `git rev-parse HEAD`, or null outside a git checkout. */
  sha: string | null;
  /** True when tracked files differ from HEAD or untracked files exist (they may be part of the build). */
  dirty: boolean | null;
  /** Number of changed or untracked paths (`git status --porcelain`). */
  changedPaths: number | null;
}

let machineCache: MachineInfo | undefined;
let commitCache: CommitInfo | undefined;

/** Machine facts, read once per process. */
export function machineInfo(): MachineInfo {
  machineCache ??= Object.freeze({
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus().length,
    availableParallelism: availableParallelism(),
    totalMemoryBytes: totalmem(),
    node: process.version,
    platform: platform(),
    arch: arch(),
    osRelease: release(),
  });
  return machineCache;
}

/** The repository root: the nearest folder above this module holding package.json (works from dist/ too). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('benchmarks: cannot find the repository root (no package.json above the harness)');
}

/** The commit the code was built from and whether the tree was dirty, read once per process (read-only git). */
export function commitInfo(): CommitInfo {
  if (commitCache) return commitCache;
  const git = (args: string[]): string =>
    execFileSync('git', ['--no-optional-locks', ...args], { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const sha = git(['rev-parse', 'HEAD']).trim();
    const changed = git(['status', '--porcelain']).split('\n').filter((l) => l.trim() !== '').length;
    commitCache = Object.freeze({ sha, dirty: changed > 0, changedPaths: changed });
  } catch {
    commitCache = Object.freeze({ sha: null, dirty: null, changedPaths: null });
  }
  return commitCache;
}

// ---------------------------------------------------------------------------------------------------------
// Timing

export interface MeasureOptions {
  /** Runs before timing starts, not recorded. @default 1 */
  warmup?: number;
  /** Timed runs. @default 5 */
  iterations?: number;
}

export interface Stats {
  iterations: number;
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  /** Every timed run in order, milliseconds rounded to microseconds. */
  samplesMs: number[];
}

function checkCount(value: number, name: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`options.${name} must be an integer >= ${min}, got ${value}`);
}

/** Nearest-rank percentile (p in (0, 100]) of a non-empty sample. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('percentile: samples must not be empty');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const us = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Summary statistics of timed runs (milliseconds). */
export function summarize(samplesMs: readonly number[]): Stats {
  if (samplesMs.length === 0) throw new RangeError('summarize: samples must not be empty');
  const mean = samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length;
  return {
    iterations: samplesMs.length,
    p50Ms: us(percentile(samplesMs, 50)),
    p95Ms: us(percentile(samplesMs, 95)),
    meanMs: us(mean),
    minMs: us(Math.min(...samplesMs)),
    maxMs: us(Math.max(...samplesMs)),
    samplesMs: samplesMs.map(us),
  };
}

/**
 * Times several functions in turns (a, b, a, b, …) so that a slow spell of the machine hits each of them alike.
 * Each function is awaited alone; nothing runs concurrently.
 * @throws RangeError for a bad option, naming it
 */
export async function measureInterleaved<K extends string>(fns: Record<K, () => unknown>, options: MeasureOptions = {}): Promise<Record<K, Stats>> {
  const warmup = options.warmup ?? 1;
  const iterations = options.iterations ?? 5;
  checkCount(warmup, 'warmup', 0);
  checkCount(iterations, 'iterations', 1);
  const keys = Object.keys(fns) as K[];
  if (keys.length === 0) throw new RangeError('measureInterleaved: give at least one function');
  for (let i = 0; i < warmup; i++) for (const k of keys) await fns[k]();
  const samples = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < iterations; i++) {
    for (const k of keys) {
      const t0 = performance.now();
      await fns[k]();
      samples[k].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, summarize(samples[k])])) as Record<K, Stats>;
}

/** Times one function: `warmup` untimed runs, then `iterations` timed runs. */
export async function measure(fn: () => unknown, options: MeasureOptions = {}): Promise<Stats> {
  return (await measureInterleaved({ fn }, options)).fn;
}

// ---------------------------------------------------------------------------------------------------------
// Ratios and result files

export interface Ratio {
  /** numerator / denominator, rounded to 4 decimals. */
  value: number;
  numerator: string;
  denominator: string;
  /** The ratio must stay at or below this. */
  target?: number;
  met?: boolean;
}

/** A ratio between two figures of the same run; `target` is an upper bound. */
export function ratio(numerator: number, denominator: number, labels: { numerator: string; denominator: string; target?: number }): Ratio {
  if (!(denominator > 0) || !Number.isFinite(numerator)) throw new RangeError(`ratio: need a finite numerator and a positive denominator, got ${numerator} / ${denominator}`);
  const value = Math.round((numerator / denominator) * 10_000) / 10_000;
  return {
    value,
    numerator: labels.numerator,
    denominator: labels.denominator,
    ...(labels.target !== undefined ? { target: labels.target, met: value <= labels.target } : {}),
  };
}

/** What a suite hands back: its figures and its ratios to baselines measured in the same run. */
export interface SuiteReport {
  results: Record<string, unknown>;
  ratios: Record<string, Ratio>;
}

export interface ResultFile extends SuiteReport {
  name: string;
  machine: MachineInfo;
  commit: CommitInfo;
  startedAt: string;
  /** 1-minute load average when the suite started: a busy machine explains a slow run. */
  loadAverageAtStart: number;
}

/** The default folder for result files: `benchmarks/results/` in the repository. */
export function defaultResultsDir(): string {
  return join(repoRoot(), 'benchmarks', 'results');
}

const SAFE_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** The envelope of a result file, stamped now (call it when the suite starts). */
export function startResult(name: string): Omit<ResultFile, 'results' | 'ratios'> {
  if (!SAFE_NAME.test(name)) throw new RangeError(`name must be lower-case letters, digits, _ . - (got ${JSON.stringify(name)})`);
  return { name, machine: machineInfo(), commit: commitInfo(), startedAt: new Date().toISOString(), loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100 };
}

/**
 * Writes `<dir>/<name>.json` = `{ name, machine, commit, startedAt, loadAverageAtStart, results, ratios }`.
 * @returns the path written
 * @throws RangeError for a bad name or a report without ratios
 */
export async function writeResult(
  name: string,
  report: SuiteReport & { startedAt?: string; loadAverageAtStart?: number },
  options: { dir?: string } = {},
): Promise<string> {
  const envelope = startResult(name);
  if (typeof report.ratios !== 'object' || report.ratios === null) throw new RangeError('report.ratios is required: compare with a baseline from the same run');
  const file: ResultFile = {
    ...envelope,
    startedAt: report.startedAt ?? envelope.startedAt,
    loadAverageAtStart: report.loadAverageAtStart ?? envelope.loadAverageAtStart,
    results: report.results,
    ratios: report.ratios,
  };
  const dir = options.dir ?? defaultResultsDir();
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const text = JSON.stringify(file, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)
    // Lists of numbers (timing samples) on one line each: the files stay small and diffable.
    // Only multi-line lists match: JSON strings cannot hold a raw newline, so string values are never touched.
    .replace(/\[\n\s*(-?[\d.e+-]+(?:,\n\s*-?[\d.e+-]+)*)\n\s*\]/g, (_m, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`);
  await writeFile(path, text + '\n');
  return path;
}

// ---------------------------------------------------------------------------------------------------------
// An in-process mesh over mTLS

export interface BenchMesh {
  client: CoordinatorClient;
  coordinator: Coordinator;
  agentNames: string[];
  /** How long certificates, coordinator and agents (including their ingest) took to come up. */
  startupMs: number;
  close(): Promise<void>;
}

export interface BenchMeshOptions {
  /** Scratch folder for certificates and state; the caller removes it. */
  workDir: string;
  /** One agent per entry; each ingests the CSV/Parquet files in its `dataDir`. */
  agents: { name: string; dataDir: string }[];
  /** @default 30000 */
  connectTimeoutMs?: number;
  /** Receives the agents' log events (e.g. `task-done` with its `ms`). */
  onAgentEvent?: (agent: string, event: string, fields: Record<string, unknown>) => void;
  /** Job kinds the agents allow. @default the agent's default (built-in kinds) */
  allowKinds?: string[];
  /** Privacy modes the agents allow. @default ['none'] */
  allowModes?: ('none' | 'central-dp' | 'local-dp' | 'distributed-dp')[];
  /**
   * How long the coordinator waits for an agent's heartbeat. Suites whose agents compute for seconds on the one
   * JavaScript thread they share (glm at 10 M rows) need more than the default.
   */
  livenessTimeoutMs?: number;
  /** The researcher's default budget at the coordinator and each agent's cap (suites that charge DP jobs). */
  budget?: { epsilon: number; delta: number };
  /**
   * Each agent's cap on the persons its mode-none differencing guard remembers per researcher (policy
   * `maxRememberedPersons`, default 2 M): a suite whose exact jobs cover more persons per agent must raise it, as a
   * site would, and the guard's cost is then part of what it measures. @default the agent's default
   */
  maxRememberedPersons?: number;
}

/**
 * Starts a coordinator on 127.0.0.1:0 and agents that dial it over mutual TLS with development certificates,
 * exactly as `fedmesh coordinator` / `fedmesh agent` do, all in this process; resolves once every agent is
 * registered. Agents allow privacy mode `none` (exact aggregates).
 */
export async function startBenchMesh(options: BenchMeshOptions): Promise<BenchMesh> {
  const t0 = performance.now();
  const names = options.agents.map((a) => a.name);
  const tlsDir = join(options.workDir, 'certs');
  await makeDevCertificates({ outDir: tlsDir, agents: names, researchers: ['bench'] });
  const coordinator = await Coordinator.create({ stateDir: join(options.workDir, 'coordinator'), ...(options.budget ? { defaultBudget: options.budget } : {}), ...(options.livenessTimeoutMs ? { livenessTimeoutMs: options.livenessTimeoutMs } : {}) });
  let server: RunningServer | undefined;
  const agents: Agent[] = [];
  let client: CoordinatorClient | undefined;
  const close = async (): Promise<void> => {
    client?.close();
    for (const a of agents) await a.stop();
    await coordinator.close();
    await server?.close();
  };
  try {
    server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
    const address = `127.0.0.1:${server.port}`;
    const connected = new Set<string>();
    const allConnected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`benchmarks: only ${connected.size} of ${names.length} agents connected`)),
        options.connectTimeoutMs ?? 30_000,
      );
      coordinator.registry.onConnect((name) => {
        connected.add(name);
        if (names.every((n) => connected.has(n))) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (const a of options.agents) {
      const agent = await Agent.create({
        name: a.name,
        dataDir: a.dataDir,
        stateDir: join(options.workDir, 'agents', a.name),
        coordinator: address,
        tls: loadTlsMaterial(tlsDir, 'agent', a.name),
        policy: { allowModes: options.allowModes ?? ['none'], ...(options.allowKinds ? { allowKinds: options.allowKinds } : {}), ...(options.budget ? { budgetCap: options.budget } : {}), ...(options.maxRememberedPersons ? { maxRememberedPersons: options.maxRememberedPersons } : {}) },
        ...(options.onAgentEvent ? { log: (event: string, fields?: Record<string, unknown>) => options.onAgentEvent!(a.name, event, fields ?? {}) } : {}),
      });
      agents.push(agent);
      agent.start();
    }
    await allConnected;
    client = new CoordinatorClient({ address, tls: loadTlsMaterial(tlsDir, 'researcher', 'bench') });
    return { client, coordinator, agentNames: names, startupMs: us(performance.now() - t0), close };
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
}
