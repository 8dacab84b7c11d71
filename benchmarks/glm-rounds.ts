/**
 * GLM over the kind seam: rounds and bytes per agent per round for a logistic model with 10 covariates on 100 000
 * synthetic rows split over 3 agents (real gRPC on loopback, plaintext transport, mode none), next to the same
 * Fisher scoring on one process over all rows (`fitPooled`) for the wall-time ratio.
 *
 *   npx tsx benchmarks/glm-rounds.ts [--rows 100000] [--agents 3]
 *
 * Synthetic data only (DuckDB's seeded random(), never used for privacy).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { fitPooled, glmFamily, glmStatLength } from '../algorithms/glm/index.js';
import { CoordinatorClient } from '../client/sdk/transport/coordinator-client.js';
import { encodeRoundPayload } from '../common/kinds/index.js';
import { Coordinator, startCoordinatorServer } from '../coordinator/index.js';
import { Agent } from '../node-agent/index.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROWS = arg('rows', 100_000);
const AGENTS = arg('agents', 3);
const K = 10;
const BETA = [-0.3, 0.5, -0.4, 0.3, -0.2, 0.25, -0.15, 0.1, -0.05, 0.2, 0.35];

async function writeSite(dir: string, from: number, n: number, seed: number): Promise<{ x: Float64Array; y: Float64Array }> {
  await mkdir(dir, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const xs = Array.from({ length: K }, (_, j) => `round(random() * 4 - 2, 4) AS x${j + 1}`).join(', ');
  const eta = `${BETA[0]} + ${Array.from({ length: K }, (_, j) => `${BETA[j + 1]} * x${j + 1}`).join(' + ')}`;
  await conn.run(`SELECT setseed(${seed})`);
  await conn.run(`CREATE TABLE t AS SELECT i AS person_id, ${xs} FROM range(${from}, ${from + n}) r(i)`);
  await conn.run(`CREATE TABLE study AS SELECT *, (random() < 1 / (1 + exp(-(${eta}))))::INTEGER AS y FROM t`);
  await conn.run(`COPY study TO '${join(dir, 'study.csv')}' (HEADER)`);
  const rows = (await conn.runAndReadAll(`SELECT ${Array.from({ length: K }, (_, j) => `x${j + 1}`).join(', ')}, y FROM study ORDER BY person_id`)).getRows();
  conn.closeSync();
  inst.closeSync();
  const x = new Float64Array(rows.length * (K + 1));
  const y = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    x[i * (K + 1)] = 1;
    for (let j = 0; j < K; j++) x[i * (K + 1) + j + 1] = Number(r[j]);
    y[i] = Number(r[K]);
  });
  await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['aggregate', 'glm'], allowedPrivacyModes: ['none'] } } }));
  return { x, y };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-glm-bench-'));
  const coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 500 });
  const server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: undefined, insecure: true });
  const agents: Agent[] = [];
  const parts: { x: Float64Array; y: Float64Array }[] = [];
  try {
    const per = Math.floor(ROWS / AGENTS);
    for (let a = 0; a < AGENTS; a++) {
      const n = a === AGENTS - 1 ? ROWS - per * (AGENTS - 1) : per;
      parts.push(await writeSite(join(dir, `a${a}`), a * per, n, (a + 1) / 10));
      const agent = await Agent.create({ name: `a${a}`, dataDir: join(dir, `a${a}`), stateDir: join(dir, `s${a}`), coordinator: `127.0.0.1:${server.port}`, insecure: true, policy: { allowModes: ['none'], allowKinds: ['glm'] } });
      agent.start();
      agents.push(agent);
    }
    while (coordinator.registry.connected().length < AGENTS) await new Promise((r) => setTimeout(r, 20));
    const client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: undefined });
    const spec = { kind: 'glm', product: 'study', family: 'binomial', outcome: 'y', covariates: Array.from({ length: K }, (_, j) => ({ column: `x${j + 1}`, type: 'numeric', bounds: [-2, 2] })), privacy: { mode: 'none' }, timeoutMs: 120_000 };
    const t0 = performance.now();
    const job = await client.run(spec);
    const ms = performance.now() - t0;
    client.close();
    if (job.state !== 'succeeded') throw new Error(`job failed: ${JSON.stringify(job.error)}`);
    const summary = job.result!.summary as { rounds: number; iterations: number; nUsed: number };
    const p = K + 1;
    const replyBytes = (glmStatLength(p) + 1) * 8;
    const specBytes = Buffer.byteLength(JSON.stringify(spec));
    const payloadBytes = encodeRoundPayload({ hash: 'f'.repeat(64), input: { round: 99, beta: Array(p).fill(-1 / 3), nullBeta0: -1 / 3 } }).length;
    // The same Fisher scoring on one process over all rows (design already in memory: a lower bound for a pooled run).
    const n = parts.reduce((s, d) => s + d.y.length, 0);
    const x = new Float64Array(n * p);
    const y = new Float64Array(n);
    let at = 0;
    for (const d of parts) {
      x.set(d.x, at * p);
      y.set(d.y, at);
      at += d.y.length;
    }
    const t1 = performance.now();
    const pooled = fitPooled({ n, p, x, y }, glmFamily('binomial'), ['(Intercept)', ...Array.from({ length: K }, (_, j) => `x${j + 1}`)]);
    const pooledMs = performance.now() - t1;
    const maxDiff = Math.max(...pooled.summary.coefficients.map((c, j) => Math.abs(c.estimate - Number(job.result!.rows[j]!.estimate))));
    console.log(JSON.stringify({ rows: ROWS, agents: AGENTS, covariates: K, rounds: summary.rounds, fisherIterations: summary.iterations, nUsed: summary.nUsed, replyBytesPerAgentPerRound: replyBytes, requestBytesPerAgentPerRound: { spec: specBytes, payloadAtMost: payloadBytes }, federatedMs: Math.round(ms), pooledInMemoryMs: Math.round(pooledMs), maxAbsDiffToPooled: maxDiff }, null, 2));
  } finally {
    for (const a of agents) await a.stop();
    await coordinator.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
