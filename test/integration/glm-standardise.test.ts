import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily, type GlmDesign } from '../../algorithms/glm/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { JobView } from '../../client/sdk/types.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../../coordinator/index.js';
import { Agent } from '../../node-agent/index.js';
import { sharedCerts } from '../helpers/mesh.js';
import { makeStudyRows, studySpec, writeStudy, type StudyRow } from '../helpers/glm-data.js';

/**
 * Issue 9 §2 end to end: `standardise: true` over 4 agents (gRPC, mTLS). Round 0 is the moments round, the IRLS
 * rounds run on scale(x1), scale(x2); plain and secagg sums give the same coefficients to the last bit, equal to the
 * pooled fit on data standardised here with the pooled mean and SD (n − 1) to 1e-6.
 */
const AGENTS = ['a1', 'a2', 'a3', 'a4'];
const SIZES = [300, 450, 380, 270];
const TERMS = ['(Intercept)', 'scale(x1)', 'scale(x2)', 'sexM'];

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pooled mean and SD (n − 1) of a column, two-pass: the reference computed here, not by the code under test. */
function meanSd(v: readonly number[]): { mean: number; sd: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean, sd: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) };
}

function standardisedDesign(rows: readonly StudyRow[], s1: { mean: number; sd: number }, s2: { mean: number; sd: number }): GlmDesign {
  const x = new Float64Array(rows.length * 4);
  rows.forEach((r, i) => x.set([1, (r.x1 - s1.mean) / s1.sd, (r.x2 - s2.mean) / s2.sd, r.sex === 'M' ? 1 : 0], i * 4));
  return { n: rows.length, p: 4, x, y: Float64Array.from(rows, (r) => r.y) };
}

const spec = (extra: Record<string, unknown> = {}) =>
  studySpec('binomial', {
    covariates: [
      { column: 'x1', type: 'numeric', bounds: [-2, 2], standardise: true },
      { column: 'x2', type: 'numeric', bounds: [0, 1], standardise: true },
      { column: 'sex', type: 'categorical', levels: ['F', 'M'], reference: 'F' },
    ],
    ...extra,
  });
const coefs = (job: JobView) => job.result!.rows.map((r) => ({ term: r.term, estimate: Number(r.estimate), stdError: Number(r.stdError) }));

describe('glm standardise over a real mesh (4 agents, plain and secagg)', () => {
  let dir: string;
  let coordinator: Coordinator;
  let server: RunningServer;
  let client: CoordinatorClient;
  const agents: Agent[] = [];
  const rows: StudyRow[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-glm-std-'));
    const tlsDir = await sharedCerts(AGENTS);
    coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 200, defaultBudget: { epsilon: 10, delta: 1e-5 } });
    server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
    client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    let first = 1;
    for (const [i, name] of AGENTS.entries()) {
      const r = makeStudyRows(SIZES[i]!, `glm-std-${name}`, first);
      first += r.length;
      rows.push(...r);
      const data = join(dir, 'data', name);
      await writeStudy(data, r);
      await writeFile(join(data, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['glm'], allowedPrivacyModes: ['none', 'central-dp'] } } }));
      await mkdir(join(dir, 'state', name), { recursive: true });
      const agent = await Agent.create({ name, dataDir: data, stateDir: join(dir, 'state', name), coordinator: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'agent', name), policy: { allowModes: ['none', 'central-dp'], allowKinds: ['glm'], budgetCap: { epsilon: 10, delta: 1e-5 } } });
      agent.start();
      agents.push(agent);
    }
    await waitFor(() => coordinator.registry.connected().length === AGENTS.length, 30_000, 'four agents');
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const a of agents) await a.stop();
    await coordinator?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('plain and secagg agree to the last bit and equal the pooled scale() fit to 1e-6; mean/SD equal the pooled ones', async () => {
    const events: string[] = [];
    const plain = await client.run(spec(), (e) => void (e.type === 'round' && events.push(e.message)));
    expect(plain.state, JSON.stringify(plain.error)).toBe('succeeded');
    const secagg = await client.run(spec({ secure: 'secagg' }));
    expect(secagg.state, JSON.stringify(secagg.error)).toBe('succeeded');
    expect(coefs(secagg)).toEqual(coefs(plain));
    // Rounds: the moments round, then R's iterations; 25 + 1 + 1 charged.
    expect(events[0]).toMatch(/of at most 27/);
    const s1 = meanSd(rows.map((r) => Math.min(2, Math.max(-2, r.x1))));
    const s2 = meanSd(rows.map((r) => Math.min(1, Math.max(0, r.x2))));
    const st = (plain.result!.summary as Record<string, unknown>).standardisation as Record<string, { mean: number; sd: number }>;
    expect(Math.abs(st.x1!.mean - s1.mean)).toBeLessThan(1e-9);
    expect(Math.abs(st.x1!.sd - s1.sd)).toBeLessThan(1e-9);
    expect(Math.abs(st.x2!.sd - s2.sd)).toBeLessThan(1e-9);
    const ref = fitPooled(standardisedDesign(rows, s1, s2), glmFamily('binomial'), TERMS).summary;
    coefs(plain).forEach((c, j) => {
      expect(c.term).toBe(TERMS[j]);
      expect(Math.abs(c.estimate - ref.coefficients[j]!.estimate)).toBeLessThan(1e-6 * Math.max(1, Math.abs(ref.coefficients[j]!.estimate)));
      expect(Math.abs(c.stdError - ref.coefficients[j]!.stdError)).toBeLessThan(1e-6 * Math.max(1, ref.coefficients[j]!.stdError));
    });
    // Negative control: the fit on unit-scaled columns (mean 0, SD 1 assumed) is not this one.
    const wrong = fitPooled(standardisedDesign(rows, { mean: 0, sd: 1 }, { mean: 0, sd: 1 }), glmFamily('binomial'), TERMS).summary;
    expect(Math.abs(wrong.coefficients[1]!.estimate - coefs(plain)[1]!.estimate)).toBeGreaterThan(1e-3);
  }, 180_000);

  it('central-dp with standardise is refused at submission naming the field', async () => {
    await expect(client.submitJob(spec({ privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }))).rejects.toThrow(/covariates\[0\]\.standardise: standardising is available in privacy mode none only/);
  });
});
