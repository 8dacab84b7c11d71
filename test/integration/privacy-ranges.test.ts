import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { FedmeshError } from '../../common/errors.js';
import { PRIVACY_LIMITS } from '../../common/job/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { sharedCerts } from '../helpers/mesh.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const BUILT = { cmd: process.execPath, args: [CLI] };
/** "Quickly": a refusal is a parse-time check (≈ 1 ms); a loaded 2-core CI machine gets a generous margin. */
const QUICK_MS = 2_000;

async function refusal(p: Promise<unknown>): Promise<FedmeshError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error('expected the call to be refused');
}

/**
 * Issue 8 #4 and #11 over the real transport, with the coordinator and an agent in their own processes (mTLS): a
 * hung admission path would freeze the coordinator process, not this test, and the call deadline would expose it.
 */
describe('hostile privacy parameters and budgets are refused quickly with INVALID_ARGUMENT (issue 8 #4, #11)', () => {
  let dir: string;
  let tls: string;
  let procs: ManagedProcess[] = [];
  let researcher: CoordinatorClient;
  let admin: CoordinatorClient;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ranges-'));
    tls = await sharedCerts(['a1']);
    const data = join(dir, 'data');
    await writePersonCsv(data, makePersons(60, 4));
    const coord = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coord'), '--tls-dir', tls, '--log-format', 'silent'], BUILT);
    procs.push(coord);
    const address = (await waitForLine(coord, /listening on (\S+)/, 20_000))[1]!;
    procs.push(startProcess('a1', ['agent', '--coordinator', address, '--name', 'a1', '--data', data, '--state', join(dir, 'a1'), '--tls-dir', tls, '--allow-modes', 'none,central-dp', '--budget-cap-epsilon', '1e4', '--budget-cap-delta', '1e-3', '--log-format', 'silent'], BUILT));
    // A short deadline: without the fix the coordinator spins and the call ends in DEADLINE_EXCEEDED, not a hang here.
    researcher = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher'), callTimeoutMs: 10_000 });
    admin = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'admin', 'admin'), callTimeoutMs: 10_000 });
    const until = Date.now() + 60_000;
    // The agent must serve `person`, or admission would stop at "no agent serves product" before any calibration.
    while ((await researcher.listAgents()).filter((a) => a.connected).length < 1) {
      const dead = procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited: ${dead.stderr()}`);
      if (Date.now() > until) throw new Error('agent did not connect within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 120_000);
  afterAll(async () => {
    researcher?.close();
    admin?.close();
    await stopAll(procs);
    procs = [];
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const count = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }] };
  const hostile: [string, Record<string, unknown>, string][] = [
    ['rho 1e-300 (the issue’s spec)', { mode: 'central-dp', rho: 1e-300 }, 'privacy.rho'],
    ['rho 1e-50', { mode: 'central-dp', rho: 1e-50 }, 'privacy.rho'],
    ['epsilon 3e-16', { mode: 'central-dp', epsilon: 3e-16 }, 'privacy.epsilon'],
    ['epsilon 1e300', { mode: 'central-dp', epsilon: 1e300 }, 'privacy.epsilon'],
    ['epsilon below the range', { mode: 'central-dp', epsilon: PRIVACY_LIMITS.jobEpsilon.min / 2 }, 'privacy.epsilon'],
    ['rho above the range', { mode: 'central-dp', rho: PRIVACY_LIMITS.jobRho.max * 2 }, 'privacy.rho'],
    ['delta 0.5', { mode: 'central-dp', epsilon: 1, delta: 0.5 }, 'privacy.delta'],
    ['delta subnormal', { mode: 'central-dp', epsilon: 1, delta: 5e-324 }, 'privacy.delta'],
  ];

  it.each(hostile)('%s → INVALID_ARGUMENT naming the field, at once', async (_name, privacy, field) => {
    const t0 = Date.now();
    const err = await refusal(researcher.submitJob({ ...count, privacy }));
    expect(Date.now() - t0).toBeLessThan(QUICK_MS);
    expect(err.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(field);
  });

  it('the coordinator keeps answering other calls, and a job at the edge of the range runs', async () => {
    const [agents, budget] = await Promise.all([researcher.listAgents(), researcher.getBudget()]);
    expect(agents.filter((a) => a.connected).map((a) => a.name)).toEqual(['a1']);
    expect(budget).toBeDefined();
    await admin.setBudget('researcher', { population: 'person' }, PRIVACY_LIMITS.budgetEpsilon.max, 1e-6);
    const job = await researcher.run({ ...count, privacy: { mode: 'central-dp', epsilon: PRIVACY_LIMITS.jobEpsilon.max } });
    expect(job.state).toBe('succeeded');
  });

  const budgets: [string, number, number, string][] = [
    ['ε = 1e21', 1e21, 1e-6, 'budget.epsilon'],
    ['δ = 0.99', 3, 0.99, 'budget.delta'],
    ['ε above the range', PRIVACY_LIMITS.budgetEpsilon.max * 2, 1e-6, 'budget.epsilon'],
    ['ε = 0', 0, 1e-6, 'budget.epsilon'],
    ['δ = 0', 3, 0, 'budget.delta'],
    ['ε NaN', NaN, 1e-6, 'budget.epsilon'],
  ];
  it.each(budgets)('SetBudget with %s → INVALID_ARGUMENT naming the field, nothing stored', async (_name, epsilon, delta, field) => {
    const err = await refusal(admin.setBudget('alice', { population: 'person' }, epsilon, delta));
    expect(err.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(field);
    const report = await admin.getBudget('alice');
    expect(report.entries.filter((e) => e.researcher === 'alice' && e.population === 'person' && e.explicit)).toEqual([]);
  });

  it('SetBudget at the edges of the range is accepted', async () => {
    const e = await admin.setBudget('alice', { population: 'person' }, PRIVACY_LIMITS.budgetEpsilon.max, PRIVACY_LIMITS.budgetDelta.max);
    expect([e.budgetEpsilon, e.budgetDelta]).toEqual([PRIVACY_LIMITS.budgetEpsilon.max, PRIVACY_LIMITS.budgetDelta.max]);
  });

  it.each([
    ['--budget-cap-epsilon', '1e21', 'budgetCap.epsilon'],
    ['--budget-cap-delta', '0.99', 'budgetCap.delta'],
  ])('an agent started with %s %s refuses to start, naming %s', async (flag, value, field) => {
    const p = startProcess('bad-agent', ['agent', '--coordinator', '127.0.0.1:1', '--name', 'a1', '--data', join(dir, 'data'), '--state', join(dir, `bad-${flag}`), '--tls-dir', tls, flag, value, '--log-format', 'silent'], BUILT);
    procs.push(p);
    const code = await p.exited;
    expect(code).not.toBe(0);
    expect(p.stderr()).toContain(field);
  });
});
