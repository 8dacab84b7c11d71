/**
 * Suite `latency` (issue 2, item 12b): end-to-end latency of a small count job across 4 agents over mutual
 * TLS, as a researcher sees it (`CoordinatorClient.run`: submitJob, then watchJob until the final state).
 * Target: p50 ≤ 15 ms. Baseline in the same run, interleaved: the raw unary gRPC round trip of `listAgents`
 * over the same TLS channel, i.e. the floor any call to the coordinator pays.
 *
 * Coordinator, agents and client live in this process and share the machine's cores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeSyntheticSites } from './aggregate.js';
import { measureInterleaved, ratio, startBenchMesh, summarize, type SuiteReport } from './harness.js';

export interface LatencyBenchmarkOptions {
  /** @default 4 */
  agents?: number;
  /** Rows per agent (small on purpose). @default 1000 */
  rowsPerAgent?: number;
  /** @default 20 */
  warmup?: number;
  /** @default 200 */
  iterations?: number;
}

const JOB = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } } as const;

function checkInt(value: number, name: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`options.${name} must be an integer >= ${min}, got ${value}`);
}

/** Runs the suite; writes nothing outside its scratch folder (the caller records the report). */
export async function runLatencyBenchmark(options: LatencyBenchmarkOptions = {}): Promise<SuiteReport> {
  const agentCount = options.agents ?? 4;
  const rowsPerAgent = options.rowsPerAgent ?? 1000;
  const warmup = options.warmup ?? 20;
  const iterations = options.iterations ?? 200;
  checkInt(agentCount, 'agents', 1);
  checkInt(rowsPerAgent, 'rowsPerAgent', 10);
  checkInt(warmup, 'warmup', 0);
  checkInt(iterations, 'iterations', 1);

  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-latency-'));
  let mesh: Awaited<ReturnType<typeof startBenchMesh>> | undefined;
  try {
    const sites = await writeSyntheticSites(join(workDir, 'data'), rowsPerAgent * agentCount, agentCount, 7);
    const taskMs: number[] = [];
    const agentFailures: string[] = [];
    mesh = await startBenchMesh({
      workDir,
      agents: sites,
      onAgentEvent: (agent, event, fields) => {
        if (event === 'task-done') taskMs.push(Number(fields.ms));
        // The researcher sees only "internal error at the agent"; keep the agents' own reason for the report.
        if (event === 'task-failed') agentFailures.push(`${agent}: ${String(fields.code)} ${String(fields.message)}${fields.cause ? ` (${String(fields.cause)})` : ''}`);
      },
    });
    const client = mesh.client;
    const submitMs: number[] = [];
    const coordinatorMs: number[] = [];
    let expectedCount = 0;
    const runJob = async (): Promise<void> => {
      const t0 = performance.now();
      const submitted = await client.submitJob(JOB);
      submitMs.push(performance.now() - t0);
      const job = await client.watchJob(submitted.jobId);
      const count = job.result?.rows[0]?.count;
      if (job.state !== 'succeeded' || count !== expectedCount) {
        const why = agentFailures.length > 0 ? `; agents logged: ${agentFailures.slice(0, 4).join('; ')}` : '';
        throw new Error(`benchmarks/latency: job ${job.jobId} ${job.state} with count ${String(count)} (want ${expectedCount}): ${job.error?.message ?? ''}${why}`);
      }
      coordinatorMs.push(job.finishedAtMs - job.createdAtMs);
    };
    expectedCount = rowsPerAgent * agentCount;
    await runJob();

    const t0 = performance.now();
    const stats = await measureInterleaved(
      {
        countJob: runJob,
        listAgents: () => client.listAgents(),
      },
      { warmup, iterations },
    );
    const wallS = (performance.now() - t0) / 1000;
    // The side records hold warm-up runs too (and one agent event per agent per job): keep the timed tail.
    const tail = (xs: number[], n: number): number[] => xs.slice(-n);

    return {
      results: {
        job: JOB,
        agents: agentCount,
        rowsPerAgent,
        transport: 'gRPC over mutual TLS on 127.0.0.1, one channel from the researcher client',
        countJob: stats.countJob,
        listAgentsRoundTrip: stats.listAgents,
        breakdownP50Ms: {
          submitJobUnary: summarize(tail(submitMs, iterations)).p50Ms,
          coordinatorCreatedToFinished: summarize(tail(coordinatorMs, iterations)).p50Ms,
          agentTask: summarize(tail(taskMs, iterations * agentCount)).p50Ms,
        },
        meshStartupMs: Math.round(mesh.startupMs),
        wallSeconds: Math.round(wallS * 10) / 10,
        notes: [
          'countJob: CoordinatorClient submitJob + watchJob until the final state, timed at the client',
          'listAgentsRoundTrip: one unary call on the same channel; the floor of any researcher call',
          'coordinatorCreatedToFinished has millisecond resolution (job record timestamps); agentTask is the agents\' own task-done time',
          'coordinator, 4 agents and the client share this machine\'s cores in one process',
        ],
      },
      ratios: {
        countJobP50OverListAgentsP50: ratio(stats.countJob.p50Ms, stats.listAgents.p50Ms, { numerator: 'count job p50', denominator: 'listAgents unary round trip p50' }),
        countJobP50OverTarget: ratio(stats.countJob.p50Ms, 15, { numerator: 'count job p50 (ms)', denominator: 'target 15 ms', target: 1 }),
      },
    };
  } finally {
    await mesh?.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
