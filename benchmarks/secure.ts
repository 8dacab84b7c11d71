/**
 * Suite `secure` (issue 4, item 7, end to end): one aggregate job over the REAL transport (coordinator and agents
 * over mTLS in this process) whose public vector has ~100,000 elements — 100 public groups × (row count + a
 * 1,000-bin histogram) — run as plaintext (mode none), secagg and he. Per mode: per-agent compute (the agents'
 * task times, all rounds), bytes each agent sends (result Arrow + protocol payload + metadata, all rounds),
 * coordinator time (its own protocol work: verifying/relaying/unmasking, or adding ciphertexts), end-to-end time
 * as the researcher sees it; plus raw node-seal encryption of a vector of the same length in the same run.
 *
 * Coordinator, 10 agents (each with its own HE worker pool) and the client share this machine's cores.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeDevCertificates } from '../client/tools/certs.js';
import { CoordinatorClient } from '../client/sdk/transport/coordinator-client.js';
import type { JobView } from '../client/sdk/types.js';
import type { AgentTask, AgentTaskReply } from '../common/agent-protocol.js';
import { getSealContext } from '../common/he/index.js';
import { loadTlsMaterial } from '../common/tls.js';
import { Coordinator, startCoordinatorServer } from '../coordinator/index.js';
import { Agent } from '../node-agent/index.js';
import { ratio, type SuiteReport } from './harness.js';
import { rawEncrypt } from './he.js';

export interface SecureBenchmarkOptions {
  /** @default 10 */
  agents?: number;
  /** Public groups; the vector has groups × (bins + 1) elements. @default 100 */
  groups?: number;
  /** Histogram bins per group (≤ 1000). @default 1000 */
  bins?: number;
  /** @default 2000 */
  rowsPerAgent?: number;
  /** Timed runs per mode after one warm-up. @default 3 */
  iterations?: number;
  /** Called after every job (run 0 is the warm-up), e.g. to print progress. */
  onRun?: (mode: 'plaintext' | 'secagg' | 'he', run: number, endToEndMs: number) => void;
}

type Mode = 'plaintext' | 'secagg' | 'he';
const round = (x: number, d = 2): number => Number(x.toFixed(d));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
};

/** Deterministic benchmark rows (xorshift32): never for anything that protects data. */
async function writeSite(dir: string, seed: number, rows: number, groups: number, bins: number): Promise<void> {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
  const lines = ['g,v'];
  for (let i = 0; i < rows; i++) lines.push(`${next() % groups},${next() % bins}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'bench.csv'), lines.join('\n') + '\n');
}

export async function runSecureBenchmark(options: SecureBenchmarkOptions = {}): Promise<SuiteReport> {
  const n = options.agents ?? 10;
  const groups = options.groups ?? 100;
  const bins = options.bins ?? 1000;
  const rows = options.rowsPerAgent ?? 2000;
  const iterations = options.iterations ?? 3;
  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-secure-'));
  const names = Array.from({ length: n }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
  const tlsDir = join(workDir, 'certs');
  await makeDevCertificates({ outDir: tlsDir, agents: names, researchers: ['bench'] });
  // Ten agents share this process's event loop with the coordinator: a long query in one delays everyone's
  // heartbeats, so liveness is relaxed here (a real mesh runs each agent in its own process).
  const coordinator = await Coordinator.create({ stateDir: join(workDir, 'coordinator'), heartbeatIntervalMs: 10_000 });
  const server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
  const agents: Agent[] = [];
  /** Per job id, per agent: task ms and bytes sent. */
  const perJob = new Map<string, Map<string, { ms: number; bytes: number; encryptMs: number }>>();
  let client: CoordinatorClient | undefined;
  try {
    for (const [i, name] of names.entries()) {
      const dataDir = join(workDir, 'data', name);
      await writeSite(dataDir, 0x5ec0 + i, rows, groups, bins);
      const agent = await Agent.create({ name, dataDir, stateDir: join(workDir, 'agents', name), coordinator: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'agent', name), policy: { allowModes: ['none'], minCellSize: 1, secureMaxRows: rows } });
      const handle = agent.handleTask.bind(agent);
      agent.handleTask = async (t: AgentTask): Promise<AgentTaskReply> => {
        const t0 = performance.now();
        const reply = await handle(t);
        const ms = performance.now() - t0;
        const bytes = reply.ok ? reply.arrow.length + (reply.payload?.length ?? 0) + JSON.stringify(reply.meta).length + t.taskId.length : 0;
        const byAgent = perJob.get(t.jobId) ?? new Map();
        const e = byAgent.get(name) ?? { ms: 0, bytes: 0, encryptMs: 0 };
        byAgent.set(name, { ms: e.ms + ms, bytes: e.bytes + bytes, encryptMs: e.encryptMs + (reply.ok ? Number(reply.meta.encryptMs ?? 0) : 0) });
        perJob.set(t.jobId, byAgent);
        return reply;
      };
      agents.push(agent);
      agent.start();
    }
    const until = Date.now() + 60_000;
    while (coordinator.registry.connected().length < n) {
      if (Date.now() > until) throw new Error('benchmarks: agents did not connect');
      await new Promise((r) => setTimeout(r, 20));
    }
    client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'bench') });
    const job = {
      kind: 'aggregate',
      product: 'bench',
      groupBy: ['g'],
      groupKeys: { g: Array.from({ length: groups }, (_, i) => i) },
      measures: [{ fn: 'histogram', column: 'v', bins: Array.from({ length: bins + 1 }, (_, i) => i) }],
      privacy: { mode: 'none' },
      timeoutMs: 600_000,
    };
    const keyDir = join(workDir, 'keys');
    const runs: Record<Mode, { e2eMs: number[]; agentMs: number[]; bytes: number[]; encryptMs: number[]; coordinatorMs: number[] }> = {
      plaintext: { e2eMs: [], agentMs: [], bytes: [], encryptMs: [], coordinatorMs: [] },
      secagg: { e2eMs: [], agentMs: [], bytes: [], encryptMs: [], coordinatorMs: [] },
      he: { e2eMs: [], agentMs: [], bytes: [], encryptMs: [], coordinatorMs: [] },
    };
    const last: Partial<Record<Mode, JobView>> = {};
    let vectorLength = 0;
    for (let it = 0; it <= iterations; it++) {
      for (const mode of ['plaintext', 'secagg', 'he'] as Mode[]) {
        const spec = mode === 'plaintext' ? job : { ...job, secure: mode, secureMaxRows: rows };
        const t0 = performance.now();
        const r = await client.run(spec, undefined, { keyDir });
        const e2e = performance.now() - t0;
        options.onRun?.(mode, it, e2e);
        if (r.state !== 'succeeded') throw new Error(`benchmarks: ${mode} job failed: ${r.error?.code}: ${r.error?.message}`);
        last[mode] = r;
        if (it === 0) continue; // warm-up: SEAL contexts, worker pools, DuckDB caches
        const per = [...(perJob.get(r.jobId)?.values() ?? [])];
        runs[mode].e2eMs.push(e2e);
        runs[mode].agentMs.push(median(per.map((p) => p.ms)));
        runs[mode].bytes.push(per.reduce((a, p) => a + p.bytes, 0) / per.length);
        runs[mode].encryptMs.push(median(per.map((p) => p.encryptMs)));
        const sec = (r.result?.summary?.secure ?? {}) as { coordinatorMs?: number; vectorLength?: number };
        if (sec.coordinatorMs !== undefined) runs[mode].coordinatorMs.push(sec.coordinatorMs);
        if (sec.vectorLength) vectorLength = sec.vectorLength;
      }
    }
    const sortRows = (v: JobView | undefined) => JSON.stringify([...(v?.result?.rows ?? [])].sort((a, b) => Number(a.g) - Number(b.g)));
    const exact = sortRows(last.secagg) === sortRows(last.plaintext) && sortRows(last.he) === sortRows(last.plaintext);

    // Raw node-seal: encrypt a vector of the same length under the same plan, single thread, best of `iterations`.
    const prepared = await client.prepareHe({ ...job, secure: 'he', secureMaxRows: rows }, { keyDir });
    const plan = prepared.keyPair.plan;
    await getSealContext(plan);
    const digits = new BigInt64Array(plan.vectorLength).map((_, i) => BigInt(i % Number(plan.valueBounds.max + 1n)));
    const raw = await rawEncrypt(plan, prepared.keyPair.publicKey, digits);
    raw();
    const rawRuns: number[] = [];
    for (let i = 0; i < Math.max(3, iterations); i++) {
      const t0 = performance.now();
      raw();
      rawRuns.push(performance.now() - t0);
    }
    const rawMs = Math.min(...rawRuns);
    const summary = (m: Mode) => ({
      endToEndMs: round(median(runs[m].e2eMs)),
      perAgentComputeMs: round(median(runs[m].agentMs)),
      bytesSentPerAgent: Math.round(median(runs[m].bytes)),
      coordinatorMs: runs[m].coordinatorMs.length ? round(median(runs[m].coordinatorMs)) : null,
      ...(m === 'he' ? { perAgentEncryptMs: round(median(runs[m].encryptMs)) } : {}),
    });
    const cores = availableParallelism();
    const results = {
      agents: n,
      groups,
      bins,
      rowsPerAgent: rows,
      vectorLength,
      iterations,
      cores,
      exactAcrossModes: exact,
      plaintext: summary('plaintext'),
      secagg: summary('secagg'),
      he: { ...summary('he'), plan: { polyModulusDegree: plan.polyModulusDegree, plainModulusBits: plan.plainModulus.toString(2).length, digitBits: Number(plan.valueBounds.max + 1n).toString(2).length - 1, ciphertexts: plan.ciphertextCount, ciphertextBytes: plan.ciphertextByteSize } },
      rawNodeSeal: { encryptMs: round(rawMs), runsMs: rawRuns.map((x) => round(x)), note: 'single thread, idle machine, same plan and vector length' },
      notes: [
        'perAgentComputeMs: median over agents of the summed task times of one job (query, encoding, masking/encryption, all rounds)',
        'bytesSentPerAgent: result Arrow + protocol payload + metadata JSON over all rounds (protobuf framing not counted)',
        `heAgentEncryptOverRaw normalises for the ${n} agents encrypting at once on ${cores} cores: median per-agent encrypt wall time / (raw × ${n} / ${cores})`,
      ],
    };
    const heNorm = rawMs * (n / cores);
    return {
      results,
      ratios: {
        secaggBytesOverPlaintext: ratio(results.secagg.bytesSentPerAgent, results.plaintext.bytesSentPerAgent, { numerator: 'secagg bytes sent per agent', denominator: 'plaintext bytes sent per agent', target: 2 }),
        heBytesOverPlaintext: ratio(results.he.bytesSentPerAgent, results.plaintext.bytesSentPerAgent, { numerator: 'he bytes sent per agent', denominator: 'plaintext bytes sent per agent' }),
        heAgentEncryptOverRaw: ratio(results.he.perAgentEncryptMs!, heNorm, { numerator: 'he per-agent encrypt ms in the job', denominator: `raw node-seal ms × ${n}/${cores} (concurrency)`, target: 1.2 }),
        secaggEndToEndOverPlaintext: ratio(results.secagg.endToEndMs, results.plaintext.endToEndMs, { numerator: 'secagg end-to-end ms', denominator: 'plaintext end-to-end ms' }),
        heEndToEndOverPlaintext: ratio(results.he.endToEndMs, results.plaintext.endToEndMs, { numerator: 'he end-to-end ms', denominator: 'plaintext end-to-end ms' }),
      },
    };
  } finally {
    client?.close();
    for (const a of agents) await a.stop();
    await coordinator.close();
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
