/**
 * `quorum` and `agents` on a real mesh (3 agents, gRPC with mTLS): named agents are honoured and the fit is exactly
 * the pooled fit of their rows; a quorum above the serving agents is refused before any agent computes; a quorum
 * never lets an agent drop mid-fit; a quorum below the named agents is refused at submission (run-options.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { JobView } from '../../client/sdk/types.js';
import { FedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type CoordinatorOptions, type RunningServer } from '../../coordinator/index.js';
import { Agent } from '../../node-agent/index.js';
import { CLI, fedmesh } from '../../test/helpers/fedmesh-cli.js';
import { sharedCerts } from '../../test/helpers/mesh.js';
import { STUDY_TERMS, makeStudyRows, studyDesign, studySpec, writeStudy, type StudyRow } from '../../test/helpers/glm-data.js';

const AGENTS = ['a1', 'a2', 'a3'];
/** Unequal sizes, so that a fit over the wrong set of agents shows. */
const SIZES = [600, 1000, 800];

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Estimates and SEs equal the pooled fit of `rows` to 1e-6 (absolute, relative for large values). */
function matchesPooled(job: JobView, rows: readonly StudyRow[]): boolean {
  const ref = fitPooled(studyDesign(rows, 'y'), glmFamily('binomial'), STUDY_TERMS).summary;
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  return ref.coefficients.every((c, j) => close(Number(job.result!.rows[j]!.estimate), c.estimate) && close(Number(job.result!.rows[j]!.stdError), c.stdError));
}

describe('glm quorum and agents on a 3-agent mesh', () => {
  let dir: string;
  let tlsDir: string;
  let coordinator: Coordinator;
  let server: RunningServer;
  let client: CoordinatorClient;
  const agents = new Map<string, Agent>();
  const rows = new Map<string, StudyRow[]>();
  /** glm tasks each agent answered, per job id. */
  const answered = new Map<string, string[]>();
  let hook: CoordinatorOptions['testOnlyBeforeRound'];

  async function startAgent(name: string): Promise<void> {
    const agent = await Agent.create({
      name,
      dataDir: join(dir, 'data', name),
      stateDir: join(dir, 'state', name),
      coordinator: `127.0.0.1:${server.port}`,
      tls: loadTlsMaterial(tlsDir, 'agent', name),
      policy: { allowModes: ['none'], allowKinds: ['glm'] },
      log: (event, f) => {
        if (event !== 'task-done' || f?.kind !== 'glm') return;
        answered.set(String(f.jobId), [...(answered.get(String(f.jobId)) ?? []), name]);
      },
    });
    agent.start();
    agents.set(name, agent);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-glm-run-'));
    tlsDir = await sharedCerts(AGENTS);
    coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 200, testOnlyBeforeRound: (jobId, round, signal) => hook?.(jobId, round, signal) ?? Promise.resolve() });
    server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
    client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    let first = 1;
    for (const [i, name] of AGENTS.entries()) {
      const r = makeStudyRows(SIZES[i]!, `glm-run-${name}`, first);
      first += r.length;
      rows.set(name, r);
      await writeStudy(join(dir, 'data', name), r, ['glm']);
      await mkdir(join(dir, 'state', name), { recursive: true });
      await startAgent(name);
    }
    await waitFor(() => coordinator.registry.connected().length === 3, 20_000, 'three agents');
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const a of agents.values()) await a.stop();
    await coordinator?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('agents: the fit runs on the named agents only and equals the pooled fit of their rows', async () => {
    const job = await client.run({ ...studySpec('binomial'), agents: ['a3', 'a1'], quorum: 2 });
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.agents.asked).toEqual(['a1', 'a3']);
    expect(new Set(answered.get(job.jobId))).toEqual(new Set(['a1', 'a3']));
    expect((job.result!.summary as { nUsed: number }).nUsed).toBe(SIZES[0]! + SIZES[2]!);
    expect(matchesPooled(job, [...rows.get('a1')!, ...rows.get('a3')!])).toBe(true);
    // Negative control: it is not the fit over all three agents.
    expect(matchesPooled(job, AGENTS.flatMap((a) => rows.get(a)!))).toBe(false);
  });

  it('quorum above the serving agents: QUORUM_NOT_MET at admission, before any agent computes', async () => {
    const e = await client.submitJob({ ...studySpec('binomial'), quorum: 4 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('QUORUM_NOT_MET');
    expect((e as FedmeshError).message).toMatch(/^quorum: 3 agents serve product study, the job needs at least 4/);
    expect((e as FedmeshError).field).toBe('quorum'); // the spec's field, not the seam's internal minAgents
    // Negative control: a quorum the mesh meets runs, on every serving agent.
    const ok = await client.run({ ...studySpec('binomial'), quorum: 3 });
    expect(ok.state, JSON.stringify(ok.error)).toBe('succeeded');
    expect(matchesPooled(ok, AGENTS.flatMap((a) => rows.get(a)!))).toBe(true);
  });

  it('a quorum below the agents does not let one drop mid-fit: the job fails with QUORUM_NOT_MET', async () => {
    let stopped = false;
    hook = async (_jobId, round) => {
      if (round === 2 && !stopped) {
        stopped = true;
        await agents.get('a2')!.stop();
        agents.delete('a2');
      }
    };
    try {
      const job = await client.run({ ...studySpec('binomial'), quorum: 1 });
      expect(job.state).toBe('failed');
      expect(job.error!.code).toBe('QUORUM_NOT_MET');
      expect(job.error!.message).toMatch(/round 3: 1 of 3 agents did not answer \(a2.*dropout policy "fail"/);
    } finally {
      hook = undefined;
      await startAgent('a2');
      await waitFor(() => coordinator.registry.connected().length === 3, 20_000, 'a2 back');
    }
  });

  it('a quorum below the named agents is refused at submission, naming quorum (INVALID_ARGUMENT on the wire)', async () => {
    const e = await client.submitJob({ ...studySpec('binomial'), agents: ['a1', 'a2', 'a3'], quorum: 2 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('INVALID_JOB');
    expect((e as FedmeshError).message).toMatch(/quorum: 2 of 3 named agents would let the fit carry on without some of them/);
  });

  it('CLI: `fedmesh glm SPEC --agents a1,a3 --quorum 2` fits on those two; `--quorum 2 --agents a1,a2,a3` is refused naming --quorum', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const file = join(dir, 'glm.json');
    await writeFile(file, JSON.stringify(studySpec('binomial')));
    const conn = ['--coordinator', `127.0.0.1:${server.port}`, '--tls-dir', tlsDir, '--name', 'researcher'];
    const ok = await fedmesh(['glm', file, '--agents', 'a1,a3', '--quorum', '2', '--json', ...conn]);
    expect(ok.code, ok.stderr).toBe(0);
    const out = JSON.parse(ok.stdout) as { status: string; nUsed: number };
    expect(out.status).toBe('succeeded');
    expect(out.nUsed).toBe(SIZES[0]! + SIZES[2]!);
    const bad = await fedmesh(['glm', file, '--agents', 'a1,a2,a3', '--quorum', '2', ...conn]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--quorum.*2 of 3 named agents/);
  }, 60_000);
});
