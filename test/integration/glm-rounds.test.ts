import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type CoordinatorOptions, type RunningServer } from '../../coordinator/index.js';
import type { JobView } from '../../client/sdk/types.js';
import { Agent } from '../../node-agent/index.js';
import { sharedCerts } from '../helpers/mesh.js';
import { CLI, fedmesh } from '../helpers/fedmesh-cli.js';
import { STUDY_TERMS, makeStudyRows, studyDesign, studySpec, writeStudy, type StudyRow } from '../helpers/glm-data.js';

const AGENTS = ['a1', 'a2', 'a3'];
/** Rows per agent: unequal, so a wrong weighting of agents would show. */
const SIZES = [700, 1100, 900];

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** |a − b| ≤ tol·max(1, |b|): absolute for small values, relative for large ones (the 1e-6). */
function close(a: number, b: number, tol = 1e-6): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

function matchesPooled(job: JobView, rows: readonly StudyRow[], family: 'binomial' | 'gaussian'): boolean {
  const ref = fitPooled(studyDesign(rows, family === 'binomial' ? 'y' : 'z'), glmFamily(family), STUDY_TERMS).summary;
  const got = job.result!.rows;
  return ref.coefficients.every((c, j) => got[j]!.term === c.term && close(Number(got[j]!.estimate), c.estimate) && close(Number(got[j]!.stdError), c.stdError));
}

interface Mesh {
  coordinator: Coordinator;
  server: RunningServer;
  client: CoordinatorClient;
  port: number;
}

describe('glm jobs over the kind seam: 3 agents over gRPC with mTLS', () => {
  let dir: string;
  let tlsDir: string;
  let mesh: Mesh;
  const agents = new Map<string, Agent>();
  const rows = new Map<string, StudyRow[]>();
  /** Round numbers of glm tasks each agent answered, per job id. */
  const answered = new Map<string, { agent: string; round: number }[]>();
  let hook: CoordinatorOptions['testOnlyBeforeRound'];

  async function startCoordinator(state: string, listen: string): Promise<Mesh> {
    const coordinator = await Coordinator.create({ stateDir: state, heartbeatIntervalMs: 200, defaultBudget: { epsilon: 20, delta: 1e-5 }, testOnlyBeforeRound: (jobId, round, signal) => hook?.(jobId, round, signal) ?? Promise.resolve() });
    const server = await startCoordinatorServer(coordinator, { listen, tls: loadTlsMaterial(tlsDir, 'coordinator') });
    const client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    return { coordinator, server, client, port: server.port };
  }

  /** Stops the coordinator (its running jobs stay running in its store) and starts a new one on the same port and state. */
  async function restartCoordinator(): Promise<void> {
    const port = mesh.port;
    mesh.client.close();
    await mesh.coordinator.close();
    await mesh.server.close();
    mesh = await startCoordinator(join(dir, 'coordinator'), `127.0.0.1:${port}`);
  }

  async function startAgent(name: string): Promise<void> {
    const log = (event: string, f?: Record<string, unknown>): void => {
      if (event !== 'task-done' || f?.kind !== 'glm') return;
      const list = answered.get(String(f.jobId)) ?? [];
      list.push({ agent: name, round: Number(f.round) });
      answered.set(String(f.jobId), list);
    };
    const agent = await Agent.create({
      name,
      dataDir: join(dir, 'data', name),
      stateDir: join(dir, 'state', name),
      coordinator: `127.0.0.1:${mesh.port}`,
      tls: loadTlsMaterial(tlsDir, 'agent', name),
      policy: { allowModes: ['none', 'central-dp'], allowKinds: ['aggregate', 'glm'], budgetCap: { epsilon: 40, delta: 1e-5 } },
      log,
    });
    agent.start();
    agents.set(name, agent);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-glm-'));
    tlsDir = await sharedCerts(AGENTS);
    mesh = await startCoordinator(join(dir, 'coordinator'), '127.0.0.1:0');
    let first = 1;
    for (const [i, name] of AGENTS.entries()) {
      const r = makeStudyRows(SIZES[i]!, `glm-${name}`, first);
      first += r.length;
      rows.set(name, r);
      await writeStudy(join(dir, 'data', name), r);
      await mkdir(join(dir, 'state', name), { recursive: true });
      await startAgent(name);
    }
    await waitFor(() => mesh.coordinator.registry.connected().length === 3, 20_000, 'three agents');
  }, 120_000);

  afterAll(async () => {
    mesh?.client.close();
    for (const a of agents.values()) await a.stop();
    await mesh?.coordinator.close();
    await mesh?.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const pooled = (): StudyRow[] => AGENTS.flatMap((a) => rows.get(a)!);

  it('logistic, mode none: equals the pooled fit to 1e-6 (estimates and standard errors), with a round event per round', async () => {
    const events: string[] = [];
    const job = await mesh.client.run(studySpec('binomial'), (e) => void (e.type === 'round' && events.push(e.message)));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(matchesPooled(job, pooled(), 'binomial')).toBe(true);
    const summary = job.result!.summary as { rounds: number; converged: boolean; nUsed: number; iterations: number };
    expect(summary.converged).toBe(true);
    expect(summary.nUsed).toBe(SIZES.reduce((a, b) => a + b, 0));
    expect(events.length).toBe(summary.rounds);
    expect(events[0]).toMatch(/^round 1 of at most 26: 3 agents answered/);
    // Negative control: the same comparison against the pooled fit of two of the three agents fails.
    expect(matchesPooled(job, [...rows.get('a1')!, ...rows.get('a2')!], 'binomial')).toBe(false);
  });

  it('CLI: `fedmesh glm SPEC.json --json` gives the coefficients object; the table is R-like; `fedmesh query` takes a glm spec too', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const file = join(dir, 'glm.json');
    await writeFile(file, JSON.stringify(studySpec('binomial')));
    const conn = ['--coordinator', `127.0.0.1:${mesh.port}`, '--tls-dir', tlsDir, '--name', 'researcher'];
    const j = await fedmesh(['glm', file, ...conn, '--json']);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout) as { status: string; coefficients: { term: string; estimate: number; stdError: number; ci95: [number, number] }[]; converged: boolean; privacy: { mode: string } };
    const ref = fitPooled(studyDesign(pooled(), 'y'), glmFamily('binomial'), STUDY_TERMS).summary;
    expect(out.status).toBe('succeeded');
    expect(out.coefficients.map((c) => c.term)).toEqual(STUDY_TERMS);
    expect(out.coefficients.every((c, i) => close(c.estimate, ref.coefficients[i]!.estimate) && close(c.stdError, ref.coefficients[i]!.stdError))).toBe(true);
    const t = await fedmesh(['glm', file, ...conn]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/Coefficients:/);
    expect(t.stdout).toMatch(/^\(Intercept\)\s+-?\d/m);
    expect(t.stdout).toMatch(/Number of Fisher Scoring iterations: \d+/);
    const q = await fedmesh(['query', file, ...conn]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/Coefficients:/);
    // Negative control: a spec of another kind given to `fedmesh glm` is refused, naming the kind.
    await writeFile(file, JSON.stringify({ ...studySpec('binomial'), kind: 'aggregate' }));
    const bad = await fedmesh(['glm', file, ...conn]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/kind is "aggregate", expected glm/);
  }, 60_000);

  it('gaussian, mode none: equals the pooled fit to 1e-6 (t statistics, estimated dispersion)', async () => {
    const job = await mesh.client.run(studySpec('gaussian'));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(matchesPooled(job, pooled(), 'gaussian')).toBe(true);
    expect((job.result!.summary as { statisticName: string }).statisticName).toBe('t');
    // Negative control: a pooled fit on a perturbed outcome (one row's z + 1) is not matched.
    const perturbed = pooled().map((r, i) => (i === 0 ? { ...r, z: r.z + 1 } : r));
    expect(matchesPooled(job, perturbed, 'gaussian')).toBe(false);
  });

  it('an agent that drops out mid-job fails the job (dropout policy "fail") with QUORUM_NOT_MET naming the round', async () => {
    let stopped = false;
    hook = async (_jobId, round) => {
      if (round === 2 && !stopped) {
        stopped = true;
        await agents.get('a3')!.stop();
        agents.delete('a3');
      }
    };
    try {
      const job = await mesh.client.run(studySpec('binomial'));
      expect(job.state).toBe('failed');
      expect(job.error!.code).toBe('QUORUM_NOT_MET');
      expect(job.error!.message).toMatch(/round 3: 1 of 3 agents did not answer \(a3/);
    } finally {
      hook = undefined;
      await startAgent('a3');
      await waitFor(() => mesh.coordinator.registry.connected().length === 3, 20_000, 'a3 back');
    }
  });

  it('a coordinator stopped between rounds resumes the job after its last completed round: same answer, no round asked twice', async () => {
    let reached!: () => void;
    const atRound3 = new Promise<void>((r) => (reached = r));
    hook = (_jobId, round, signal) => {
      if (round !== 3) return Promise.resolve();
      reached();
      // Hold the round until the coordinator stops (its stop aborts the signal).
      return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    };
    const submitted = await mesh.client.submitJob(studySpec('binomial'));
    await atRound3;
    hook = undefined;
    await restartCoordinator();
    const job = await mesh.client.watchJob(submitted.jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(matchesPooled(job, pooled(), 'binomial')).toBe(true);
    const asked = answered.get(submitted.jobId)!;
    const rounds = (job.result!.summary as { rounds: number }).rounds;
    for (let r = 0; r < rounds; r++) expect(asked.filter((a) => a.round === r).map((a) => a.agent).sort(), `round ${r}`).toEqual(AGENTS);
    // Negative control: rounds before the stop were indeed run by the first coordinator (the resume did not start over).
    expect(asked.findIndex((a) => a.round === 3)).toBeGreaterThan(asked.findLastIndex((a) => a.round === 2));
  }, 60_000);

  it('a central-dp aggregate job (public groups: the kind seam) interrupted by a coordinator restart resumes and succeeds, charged once', async () => {
    // What the researcher's ledger holds (a reservation counts as spent: it is never refunded) and in how many jobs.
    const total = (): Promise<number> => mesh.coordinator.ledger.report('researcher').then((r) => r.reduce((s, e) => s + e.spent.rho, 0));
    const jobs = (): Promise<number> => mesh.coordinator.ledger.report('researcher').then((r) => r.reduce((s, e) => s + e.jobs, 0));
    let reached!: () => void;
    const atRound0 = new Promise<void>((r) => (reached = r));
    hook = (_jobId, _round, signal) => {
      reached();
      return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    };
    const before = await total();
    const jobsBefore = await jobs();
    const submitted = await mesh.client.submitJob({ kind: 'aggregate', product: 'study', measures: [{ fn: 'count' }, { fn: 'quantile', column: 'x1', bounds: [-4, 4], quantiles: [0.5] }], privacy: { mode: 'central-dp', epsilon: 2 } });
    await atRound0;
    hook = undefined;
    const reserved = await total();
    expect(reserved - before).toBeGreaterThan(0);
    await restartCoordinator();
    const job = await mesh.client.watchJob(submitted.jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    // 2 700 persons; ε = 2 split over the count and the median: the count's Laplace std is about 1.4, so ±20 is > 10σ.
    const n = SIZES.reduce((a, b) => a + b, 0);
    const row = job.result!.rows[0]!;
    expect(Math.abs(Number(row.count) - n)).toBeLessThan(20);
    // The median of x1 (a standard normal-ish covariate): a public candidate near 0, chosen by permute-and-flip.
    expect(Math.abs((row.quantile_x1 as number[])[0]!)).toBeLessThan(1);
    // Reserved once at admission; the resumed job charged nothing more.
    expect(await total()).toBeCloseTo(reserved, 12);
    expect(await jobs()).toBe(jobsBefore + 1);
  }, 60_000);

  it('central-dp: charged once up front, noise of the stated size; the fit differs from the exact one by about what the noise says', async () => {
    const before = (await mesh.coordinator.ledger.report('researcher')).reduce((s, e) => s + e.spent.rho, 0);
    const spec = studySpec('binomial', { privacy: { mode: 'central-dp', epsilon: 16, delta: 1e-6 }, maxIterations: 6 });
    const job = await mesh.client.run(spec);
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    const privacy = job.result!.privacy as { rho: number; roundsCharged: number; noiseStd: Record<string, number> };
    const after = (await mesh.coordinator.ledger.report('researcher')).reduce((s, e) => s + e.spent.rho, 0);
    // One reservation of the job's whole ρ (all 7 public rounds), not one per round.
    expect(privacy.roundsCharged).toBe(7);
    expect(after - before).toBeCloseTo(privacy.rho, 12);
    const exact = fitPooled(studyDesign(pooled(), 'y'), glmFamily('binomial'), STUDY_TERMS).summary;
    // At the fixed point U(β) + e = 0, so β_dp − β ≈ (XᵀWX)⁻¹ e with e the score's noise (σ per entry):
    // sd_j = σ·‖row j of (XᵀWX)⁻¹‖ (the information's own noise adds a little). Tolerance 6 sd on all 4 terms: in
    // 300 seeded simulations of this job the largest deviation was 4.8 sd. Negative control: 1/100 of it fails
    // (it passed in none of the 300). ε = 16 keeps the noisy information positive definite at n = 2700.
    const p = STUDY_TERMS.length;
    const sigma = privacy.noiseStd.rhs!;
    const sd = STUDY_TERMS.map((_, j) => sigma * Math.sqrt(Array.from({ length: p }, (_, k) => exact.covUnscaled[j * p + k]! ** 2).reduce((a, b) => a + b, 0)));
    const dev = exact.coefficients.map((c, j) => Math.abs(Number(job.result!.rows[j]!.estimate) - c.estimate));
    expect(sigma).toBeGreaterThan(0);
    expect(dev.every((d, j) => d <= 6 * sd[j]!), `deviations ${dev} vs sd ${sd}`).toBe(true);
    expect(dev.every((d, j) => d <= (6 * sd[j]!) / 100)).toBe(false);
  }, 60_000);
});
