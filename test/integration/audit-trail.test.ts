/**
 * Issue 11, audit trail over a real mesh (mTLS, two agents): a job's lifecycle appears in the coordinator's log and
 * in each agent's own log, refusals and failed authentications are recorded, both logs verify with their own keys,
 * and no spec value or data value reaches either log.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { listSegments, verifyAuditDir, type AuditEntry } from '../../common/audit/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

function read(dir: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  const r = verifyAuditDir(dir, undefined, (e) => out.push(e));
  expect(r.problems).toEqual([]);
  return out;
}
const rawText = (dir: string): string => listSegments(dir).map((s) => readFileSync(join(dir, s), 'utf8')).join('');

describe('audit trail over a real mesh', () => {
  let mesh: TestMesh;
  let coordinatorAudit: string;
  const agentAudit = (name: string): string => join(mesh.dir, 'agents', name, 'audit');

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    coordinatorAudit = join(mesh.dir, 'coordinator', 'audit');
    for (const [i, name] of ['a1', 'a2'].entries()) {
      const dir = join(mesh.dir, 'data', name);
      await writePersonCsv(dir, makePersons(300, i + 1, 1 + i * 10_000));
      await mesh.startAgent(name, dir);
    }
    await mesh.waitForAgents(2);
  });
  afterAll(async () => mesh?.close());

  it("a DP job's lifecycle is in the coordinator's log and in each agent's, with the privacy cost, and no spec values", async () => {
    const job = await mesh.client.run({
      kind: 'aggregate',
      product: 'person',
      where: [{ column: 'year_of_birth', op: '>=', value: 1944 }],
      measures: [{ fn: 'count' }],
      privacy: { mode: 'central-dp', epsilon: 0.25 },
    });
    expect(job.error).toBeUndefined();
    const mine = read(coordinatorAudit).filter((e) => e.jobId === job.jobId);
    expect(mine.map((e) => e.type)).toEqual(['ledger.reserve', 'job.admitted', 'job.dispatched', 'job.agent-answered', 'job.agent-answered', 'ledger.commit', 'job.released']);
    expect(mine.find((e) => e.type === 'job.admitted')).toMatchObject({ researcher: 'researcher', kind: 'aggregate', privacyMode: 'central-dp', epsilon: 0.25, agents: ['a1', 'a2'] });
    const released = mine.find((e) => e.type === 'job.released')!;
    const reserve = mine.find((e) => e.type === 'ledger.reserve')!;
    expect(released).toMatchObject({ answered: 2, missing: 0 });
    // The privacy cost released is the one reserved (ε after snapping to the noise grid: within 1e-5 of the asked 0.25).
    expect(released.epsilon).toBe(reserve.epsilon);
    expect(Math.abs((released.epsilon as number) - 0.25)).toBeLessThan(1e-5);
    expect(reserve).toMatchObject({ researcher: 'researcher', populations: [{ population: 'person', products: ['person'] }] });
    expect(new Set(mine.filter((e) => e.type === 'job.agent-answered').map((e) => e.agent))).toEqual(new Set(['a1', 'a2']));
    for (const name of ['a1', 'a2']) {
      const at = read(agentAudit(name)).filter((e) => e.jobId === job.jobId);
      expect(at.map((e) => e.type)).toEqual(['task.received', 'ledger.charge', 'task.answered']);
      expect(at[0]).toMatchObject({ researcher: 'researcher', kind: 'aggregate', privacyMode: 'central-dp', epsilon: 0.25 });
    }
    // The filter's column and value are spec values: neither log holds them.
    for (const dir of [coordinatorAudit, agentAudit('a1'), agentAudit('a2')]) {
      expect(rawText(dir)).not.toContain('year_of_birth');
      expect(rawText(dir)).not.toContain('"value"');
    }
  });

  it('agents registering, a refused job and a failed authentication are recorded', async () => {
    await expect(mesh.client.submitJob({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: -1 } })).rejects.toThrow();
    // An agent certificate may not act as a researcher.
    const impostor = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'agent', 'a1') });
    await expect(impostor.listJobs()).rejects.toThrow();
    impostor.close();
    const entries = read(coordinatorAudit);
    expect(entries.filter((e) => e.type === 'agent.registered').map((e) => e.agent).sort()).toEqual(['a1', 'a2']);
    expect(entries.find((e) => e.type === 'job.refused' && e.field === 'privacy.epsilon')).toMatchObject({ researcher: 'researcher', code: 'INVALID_JOB', field: 'privacy.epsilon' });
    expect(entries.find((e) => e.type === 'auth.failed')).toMatchObject({ role: 'agent' });
  });

  it("an agent's refusal is in its own log with the code, and the coordinator records which agent refused", async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'local-dp', epsilon: 0.1 } });
    const answers = read(coordinatorAudit).filter((e) => e.jobId === job.jobId && e.type.startsWith('job.agent-'));
    expect(answers).toHaveLength(2);
    // Negative control for the refusal path: both agents allow local-dp here, so both answered.
    expect(answers.every((e) => e.type === 'job.agent-answered')).toBe(true);
    const budgetHog = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 2.9 } }).catch((e: Error) => e);
    // The coordinator's default budget (ε = 3) is spent past: refused at admission, nothing dispatched.
    expect(budgetHog).toBeInstanceOf(Error);
    const refused = read(coordinatorAudit).filter((e) => e.type === 'job.refused' && e.code === 'BUDGET_EXHAUSTED');
    expect(refused).toHaveLength(1);
    // Past the coordinator's budget, each agent's own cap (ε = 10 per researcher) refuses: recorded on both sides.
    await mesh.coordinator.setBudget('admin', true, 'researcher', { population: 'person' }, { epsilon: 100, delta: 1e-6 });
    const within = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 5 } });
    expect(within.error).toBeUndefined();
    const over = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 5 } });
    const sides = read(coordinatorAudit).filter((e) => e.jobId === over.jobId && e.type.startsWith('job.agent-'));
    expect(sides.map((e) => [e.type, e.code])).toEqual([['job.agent-refused', 'BUDGET_EXHAUSTED'], ['job.agent-refused', 'BUDGET_EXHAUSTED']]);
    expect(read(coordinatorAudit).find((e) => e.type === 'ledger.budget')).toMatchObject({ researcher: 'researcher', population: 'person', epsilon: 100, setBy: 'admin' });
    for (const name of ['a1', 'a2']) {
      const at = read(agentAudit(name)).filter((e) => e.jobId === over.jobId);
      expect(at.map((e) => [e.type, e.code])).toEqual([['task.received', undefined], ['task.refused', 'BUDGET_EXHAUSTED']]);
    }
  });
});
