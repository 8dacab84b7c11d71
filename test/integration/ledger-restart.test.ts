import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { FedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Agent } from '../../node-agent/index.js';
import { sharedCerts } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const BUILT = { cmd: process.execPath, args: [CLI] };

async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the privacy ledger across a coordinator crash, and the agent cap', () => {
  let dir: string;
  let tls: string;
  let procs: ManagedProcess[] = [];
  let agent: Agent | undefined;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ledger-'));
    tls = await sharedCerts(['a1']);
  });
  afterAll(async () => {
    await agent?.stop();
    await stopAll(procs);
    procs = [];
    await rm(dir, { recursive: true, force: true });
  });

  it('a coordinator killed mid-job and restarted shows the job charged once, nothing reserved, nothing overspent', async () => {
    const state = join(dir, 'coord');
    const start = async (listen: string): Promise<string> => {
      const p = startProcess('coordinator', ['coordinator', '--listen', listen, '--state', state, '--tls-dir', tls, '--log-format', 'silent', '--heartbeat-ms', '200', '--default-epsilon', '1', '--default-delta', '1e-6'], BUILT);
      procs.push(p);
      return (await waitForLine(p, /listening on (\S+)/, 20_000))[1]!;
    };
    const address = await start('127.0.0.1:0');
    const data = join(dir, 'data');
    await writePersonCsv(data, makePersons(200, 9));
    agent = await Agent.create({ name: 'a1', dataDir: data, stateDir: join(dir, 'agent'), coordinator: address, tls: loadTlsMaterial(tls, 'agent', 'a1'), policy: { allowModes: ['central-dp'], budgetCap: { epsilon: 1.0, delta: 1e-6 } } });
    // The agent takes the task (and charges its own ledger) but never answers: the job is mid-flight.
    const original = agent.serveTask.bind(agent);
    let taken = false;
    agent.serveTask = async (t, id) => {
      taken = true;
      await original(t, id);
      return new Promise(() => undefined);
    };
    agent.start();
    let client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher') });
    await until(async () => (await client.listAgents()).some((a) => a.connected), 10_000);
    // Data-derived groups (DP partition selection at each agent) keep this central-dp job on the built-in one-round
    // path, which fails a job the restart interrupted (public groups run on the kind seam, which resumes it:
    // test/integration/glm-rounds.test.ts, train-rounds.test.ts).
    const job = await client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.6, delta: 1e-7 } });
    await until(() => taken, 10_000);
    client.close();

    procs[0]!.child.kill('SIGKILL');
    await procs[0]!.exited;
    await start(address);
    client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher') });
    const after = await client.getJob(job.jobId);
    expect(after.state).toBe('failed');
    expect(after.error!.message).toMatch(/restarted/);
    const report = await client.getBudget();
    const e = report.entries.find((x) => x.population === 'person')!;
    expect(e.jobs).toBe(1);
    expect(e.reserved).toBe(0);
    // (ε, δ) = (0.6, 1e-7) is charged as its zCDP ρ, stated in ε at the budget's δ: at most 0.6, once (twice would be > 1).
    expect(e.spentEpsilon).toBeGreaterThan(0.5);
    expect(e.spentEpsilon).toBeLessThanOrEqual(0.6 + 1e-9);
    expect(e.spentEpsilon).toBeLessThanOrEqual(e.budgetEpsilon);

    await until(async () => (await client.listAgents()).some((a) => a.connected), 15_000);
    // A second ε=0.6 job does not fit the coordinator budget of ε=1 anymore: refused before any agent computes.
    const refused = await client.submitJob({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.6 } }).catch((err: unknown) => err);
    expect((refused as FedmeshError).code).toBe('BUDGET_EXHAUSTED');

    // The agent's own ledger charged the interrupted job exactly once.
    const spend = await agent.privacyLedger.spend('researcher');
    expect(spend.jobs).toBe(1);
    expect(spend.rho).toBeCloseTo(e.spentRho, 9);
    expect(spend.epsilonAtCapDelta).toBeGreaterThan(0.5);
    expect(spend.epsilonAtCapDelta).toBeLessThanOrEqual(0.6 + 1e-9);
    client.close();
  });

  it("an agent refuses a job beyond its own cap for the researcher, whatever the coordinator's budget says", async () => {
    // Cap ε = 1 at the agent, more than 0.5 already spent above; a fresh 0.5 job would exceed it.
    const ledger = agent!.privacyLedger;
    await expect(ledger.charge('job-x', 'researcher', { rho: 0.125, epsilon: 0.5, delta: 0 })).rejects.toMatchObject({ code: 'BUDGET_EXHAUSTED' });
    // Another researcher has their own cap.
    await expect(ledger.charge('job-y', 'alice', { rho: 0.125, epsilon: 0.5, delta: 0 })).resolves.toBeUndefined();
    // Charging the same job twice (a retried task) costs once.
    await ledger.charge('job-y', 'alice', { rho: 0.125, epsilon: 0.5, delta: 0 });
    expect((await ledger.spend('alice')).jobs).toBe(1);
  });
});
