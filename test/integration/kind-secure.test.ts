import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { JobView } from '../../client/sdk/types.js';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { compileKindJob, decodeRoundPayload, heVectorPlan, kindPrivacyModeOf } from '../../common/kinds/index.js';
import { KINDS } from '../../jobs/kinds.js';
import { decodeEnvelope, encodeEnvelope } from '../../common/secure/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../../coordinator/index.js';
import { Agent } from '../../node-agent/index.js';
import { sharedCerts } from '../helpers/mesh.js';
import { STUDY_TERMS, makeStudyRows, studyDesign, studySpec, writeStudy, type StudyRow } from '../helpers/glm-data.js';

/**
 * Secure sums over the kind seam, end to end: 4 agents over gRPC with mTLS (each with its certificate-attested
 * identity key), glm fitted with plain, secagg and he sums. The statistics are exact integers on a public
 * fixed-point grid, so all three must give the same coefficients to the last bit; a tampered share must not.
 */
const AGENTS = ['a1', 'a2', 'a3', 'a4'];
const SIZES = [300, 450, 380, 270];
const MODES = ['none', 'central-dp', 'local-dp', 'distributed-dp'];

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const coefs = (job: JobView): { term: unknown; estimate: number; stdError: number }[] => job.result!.rows.map((r) => ({ term: r.term, estimate: Number(r.estimate), stdError: Number(r.stdError) }));

describe('secure sums (secagg, he) for registry kinds over a real mesh', () => {
  let dir: string;
  let tlsDir: string;
  let coordinator: Coordinator;
  let server: RunningServer;
  let client: CoordinatorClient;
  const agents = new Map<string, Agent>();
  const rows = new Map<string, StudyRow[]>();
  const phasesSeen = new Map<string, Set<string>>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-kind-secure-'));
    tlsDir = await sharedCerts(AGENTS);
    // Liveness well above the HE key holder's one-off main-thread work (SEAL loads its context and makes the key pair
    // on the agent's main thread: 0.4–1.3 s measured for N = 4096–8192 on a loaded 2-core machine), as the default
    // (3 × 2 s heartbeats) is; 600 ms would drop the key holder mid-phase.
    coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 200, livenessTimeoutMs: 15_000, defaultBudget: { epsilon: 100, delta: 1e-4 } });
    server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
    client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    let first = 1;
    for (const [i, name] of AGENTS.entries()) {
      const r = makeStudyRows(SIZES[i]!, `kind-secure-${name}`, first);
      first += r.length;
      rows.set(name, r);
      const data = join(dir, 'data', name);
      await writeStudy(data, r);
      await writeFile(join(data, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['glm'], allowedPrivacyModes: MODES } } }));
      await mkdir(join(dir, 'state', name), { recursive: true });
      const log = (event: string, f?: Record<string, unknown>): void => {
        if (event === 'task-done' && f?.kind === 'glm') (phasesSeen.get(name) ?? phasesSeen.set(name, new Set()).get(name)!).add(String(f.jobId));
      };
      const agent = await Agent.create({ name, dataDir: data, stateDir: join(dir, 'state', name), coordinator: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'agent', name), policy: { allowModes: MODES as never, allowKinds: ['glm'], budgetCap: { epsilon: 1000, delta: 1e-3 } }, log });
      agent.start();
      agents.set(name, agent);
    }
    await waitFor(() => coordinator.registry.connected().length === AGENTS.length, 30_000, 'four agents');
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const a of agents.values()) await a.stop();
    await coordinator?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const pooled = (): StudyRow[] => AGENTS.flatMap((a) => rows.get(a)!);

  it('glm (logistic) with secagg and he equals the plain fit to the last bit, and the pooled fit to 1e-6', async () => {
    const plain = await client.run(studySpec('binomial'));
    expect(plain.state, JSON.stringify(plain.error)).toBe('succeeded');
    const secagg = await client.run(studySpec('binomial', { secure: 'secagg' }));
    expect(secagg.state, JSON.stringify(secagg.error)).toBe('succeeded');
    // The key holder (a1, first by name) answers he-decrypt with each entry's total, not BFV's digit sums (red team 51).
    type Run = (t: AgentTask, identity: unknown) => Promise<AgentTaskReply>;
    const a1 = agents.get('a1')! as unknown as { serveTask: Run };
    const original: Run = a1.serveTask.bind(a1);
    const decrypted: { task: AgentTask; bytes: number }[] = [];
    a1.serveTask = async (t, identity) => {
      const reply = await original(t, identity);
      let phase: string | undefined;
      try {
        phase = decodeRoundPayload(t.payload).phase;
      } catch {
        phase = undefined;
      }
      if (reply.ok && phase === 'he-decrypt') decrypted.push({ task: t, bytes: reply.arrow.length });
      return reply;
    };
    let he: JobView;
    try {
      he = await client.run(studySpec('binomial', { secure: 'he' }));
    } finally {
      a1.serveTask = original;
    }
    expect(he.state, JSON.stringify(he.error)).toBe('succeeded');
    expect((he.result!.privacy as { secure: string }).secure).toBe('he');
    expect(decrypted.length).toBeGreaterThan(0);
    for (const d of decrypted) {
      const def = KINDS.get('glm')!;
      const job = compileKindJob(def, JSON.parse(d.task.specJson));
      const layout = def.layout(job, d.task.round);
      const { vector } = heVectorPlan(job, layout, kindPrivacyModeOf(def, job).roundNoise(job, layout, { agents: AGENTS.length }), AGENTS.length);
      const entries = layout.blocks.reduce((k, b) => k + b.length, 0);
      expect(d.bytes).toBe(entries * 8);
      // Control: the digit sums would be more numbers (XᵀWX on 2^-30 takes several HE digits per entry).
      expect(vector.vectorLength).toBeGreaterThan(entries);
    }
    // Exact integer sums: identical doubles, not "close".
    expect(coefs(secagg)).toEqual(coefs(plain));
    expect(coefs(he)).toEqual(coefs(plain));
    expect(secagg.result!.summary).toMatchObject({ iterations: (plain.result!.summary as { iterations: number }).iterations });
    expect((secagg.result!.privacy as { secure: string }).secure).toBe('secagg');
    const ref = fitPooled(studyDesign(pooled(), 'y'), glmFamily('binomial'), STUDY_TERMS).summary;
    coefs(secagg).forEach((c, j) => {
      expect(Math.abs(c.estimate - ref.coefficients[j]!.estimate)).toBeLessThan(1e-6 * Math.max(1, Math.abs(ref.coefficients[j]!.estimate)));
      expect(Math.abs(c.stdError - ref.coefficients[j]!.stdError)).toBeLessThan(1e-6 * Math.max(1, ref.coefficients[j]!.stdError));
    });
  }, 180_000);

  it('negative control: one agent tampering with its masked vector (secagg) changes the result or fails the job', async () => {
    const plain = await client.run(studySpec('binomial'));
    // The link hands verified tasks to the agent's serveTask: wrap that one (handleTask is the in-process door).
    type Run = (t: AgentTask, identity: unknown) => Promise<AgentTaskReply>;
    const a2 = agents.get('a2')! as unknown as { serveTask: Run };
    const original: Run = a2.serveTask.bind(a2);
    const tamper = (phase: string): Run => async (t, identity) => {
      const reply = await original(t, identity);
      let p: string | undefined;
      try {
        p = decodeRoundPayload(t.payload).phase;
      } catch {
        p = undefined;
      }
      if (reply.ok && p === phase && reply.arrow.length > 0) {
        // A byte well inside the masked vector / ciphertext (both dominate their message), in the XᵀWX block's
        // limbs rather than the trailing dropped-row count, which the coefficients do not read.
        const bytes = Uint8Array.from(reply.arrow);
        const at = Math.floor(bytes.length * 0.6);
        bytes[at] = bytes[at]! ^ 0x10;
        return { ...reply, arrow: bytes };
      }
      return reply;
    };
    try {
      a2.serveTask = tamper('mask');
      const bad = await client.run(studySpec('binomial', { secure: 'secagg' }));
      if (bad.state === 'succeeded') expect(coefs(bad)).not.toEqual(coefs(plain));
      else expect(bad.error!.message.length).toBeGreaterThan(0);
      // Either way the tampered run is not the plain answer; the untampered run right after is again.
      a2.serveTask = original;
      expect(coefs(await client.run(studySpec('binomial', { secure: 'secagg' })))).toEqual(coefs(plain));
      // he: a ciphertext changed after a2 signed it (as a coordinator swapping in another vector would) is refused by
      // the key holder, naming a2; nothing is decrypted.
      a2.serveTask = tamper('he-encrypt');
      const forged = await client.run(studySpec('binomial', { secure: 'he' }));
      expect(forged.state).toBe('failed');
      expect(forged.error!.message).toMatch(/contribution relayed for a2 is not signed by it/);
      a2.serveTask = original;
      expect(coefs(await client.run(studySpec('binomial', { secure: 'he' })))).toEqual(coefs(plain));
    } finally {
      a2.serveTask = original;
    }
  }, 180_000);

  it('a coordinator that brings a certified agent outside the job\'s agents into a secure round is refused by the agents (red team 3)', async () => {
    type Run = (t: AgentTask, identity: unknown) => Promise<AgentTaskReply>;
    const a1 = agents.get('a1')! as unknown as { serveTask: Run };
    const original: Run = a1.serveTask.bind(a1);
    const payloadOf = (t: AgentTask) => JSON.parse(Buffer.from(t.payload).toString('utf8')) as { phase?: string; msg?: string };
    const startOf = (msg: string) => decodeEnvelope(new Uint8Array(Buffer.from(msg, 'base64'))) as { participants: { id: string }[]; threshold: number };
    // a4's attested entry, as a coordinator holds it from any earlier round with a4.
    let a4: unknown;
    a1.serveTask = async (t, identity) => {
      const p = payloadOf(t);
      if (p.phase === 'advertise' && p.msg) a4 ??= startOf(p.msg).participants.find((x) => x.id === 'a4');
      return original(t, identity);
    };
    const spec = (extra: Record<string, unknown> = {}) => studySpec('binomial', { secure: 'secagg', maxIterations: 2, ...extra });
    try {
      expect((await client.run(spec())).state).toBe('succeeded');
      expect(a4).toBeDefined();
      // The job names a1–a3; the coordinator adds a4 to a1's participant list (and the threshold four imply).
      a1.serveTask = async (t, identity) => {
        const p = payloadOf(t);
        if (p.phase === 'advertise' && p.msg) {
          const start = startOf(p.msg);
          start.participants.push(a4 as { id: string });
          start.threshold = 3;
          p.msg = Buffer.from(encodeEnvelope(start)).toString('base64');
          return original({ ...t, payload: new TextEncoder().encode(JSON.stringify(p)) }, identity);
        }
        return original(t, identity);
      };
      const bad = await client.run(spec({ agents: ['a1', 'a2', 'a3'] }));
      expect(bad.state).toBe('failed');
      expect(bad.error!.message).toMatch(/a1: POLICY_DENIED: refusing the round: participant a4 is not among the job's agents/);
      // Control: the same job, untouched, runs on a1–a3.
      let task: { t: AgentTask; identity: unknown } | undefined;
      a1.serveTask = async (t, identity) => {
        task ??= { t, identity };
        return original(t, identity);
      };
      const ok = await client.run(spec({ agents: ['a1', 'a2', 'a3'] }));
      expect(ok.state, JSON.stringify(ok.error)).toBe('succeeded');
      // A task of that job sent to a4 (outside its agents) is refused before a4 charges or reads anything.
      const a4Agent = agents.get('a4')! as unknown as { serveTask: Run };
      const reply = await a4Agent.serveTask(task!.t, task!.identity);
      expect(reply.ok).toBe(false);
      expect(JSON.stringify(reply)).toMatch(/this agent \(a4\) is not among the job's agents/);
    } finally {
      a1.serveTask = original;
    }
  }, 180_000);

  it('refuses from public facts before anything is charged: distributed-dp with plain sums, he with central-dp, secagg with an unbounded outcome', async () => {
    await expect(client.submitJob(studySpec('binomial', { privacy: { mode: 'distributed-dp', epsilon: 1, delta: 1e-6 } }))).rejects.toThrow(/distributed-dp needs a secure sum/);
    await expect(client.submitJob(studySpec('binomial', { secure: 'he', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }))).rejects.toThrow(/key-holding agent/);
    await expect(client.submitJob(studySpec('gaussian', { secure: 'secagg' }))).rejects.toThrow(/outcomeBounds/);
  });

  it('distributed-dp with secagg and local-dp run end to end, charged once, with the noise stated per block', async () => {
    const dist = await client.run(studySpec('binomial', { secure: 'secagg', maxIterations: 6, privacy: { mode: 'distributed-dp', epsilon: 4, delta: 1e-6 } }));
    expect(dist.state, JSON.stringify(dist.error)).toBe('succeeded');
    const noiseStd = (dist.result!.privacy as { noiseStd: Record<string, number> }).noiseStd;
    expect(noiseStd.info!).toBeGreaterThan(0);
    // The guarantee is stated as for the built-in kinds (issue 15 point 7): unit, k, sites, colluders (default ⌊(4 − 1)/3⌋ = 1), what the coordinator sees.
    const g = (dist.result!.privacy as { guarantee?: Record<string, unknown> }).guarantee!;
    expect(g).toMatchObject({ maxRowsPerPerson: 1, maxSitesPerPerson: 1, epsilon: 4, delta: 1e-6 });
    expect(g.unit).toMatch(/^a person/);
    expect(g.colluders).toMatch(/1 of 4 agents may drop out or collude/);
    expect(g.coordinatorSees).toMatch(/masked partials/);
    expect(g.mechanism).toMatch(/discrete Gaussian/);
    const local = await client.run(studySpec('binomial', { maxIterations: 6, privacy: { mode: 'local-dp', epsilon: 4, delta: 1e-6 } }));
    expect(local.state, JSON.stringify(local.error)).toBe('succeeded');
    // n agents each add the full noise: the sum carries √n × a distributed share plan's central amount or more.
    expect((local.result!.privacy as { noiseStd: Record<string, number> }).noiseStd.info!).toBeGreaterThan(noiseStd.info!);
    expect((local.result!.privacy as { guarantee?: { colluders: string } }).guarantee!.colluders).toMatch(/any number/);
    // Negative control: a mode-none fit states no DP guarantee.
    const none = await client.run(studySpec('binomial', { maxIterations: 6 }));
    expect((none.result!.privacy as { guarantee?: unknown }).guarantee).toBeUndefined();
  }, 180_000);
});
