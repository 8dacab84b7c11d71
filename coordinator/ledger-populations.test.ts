/** Issue 15 item 1, in process: reservations over several populations are all or none, once per job id. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../common/job/index.js';
import { Coordinator } from './coordinator.js';
import type { JobRecord } from './job-record.js';
import { checkCoordinatorState } from './state/check-state.js';

const SPEC = parseJobSpec({ kind: 'aggregate', product: 'pumps', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } });
const job = (id: string): JobRecord => ({ id, kind: 'aggregate', researcher: 'alice', spec: SPEC, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined });
const COST = { rho: 0.5, epsilon: 1, delta: 0 };
const BOTH = [{ population: 'device', products: ['pumps'] }, { population: 'person', products: ['pumps'] }];

describe('ledger reservations on several populations', () => {
  let dir: string;
  let c: Coordinator;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ledger-pop-'));
    c = await Coordinator.create({ stateDir: join(dir, 'state') });
    await c.setBudget('admin', true, 'alice', { population: 'device' }, { epsilon: 5, delta: 1e-6 });
    await c.setBudget('admin', true, 'alice', { population: 'person' }, { epsilon: 1, delta: 1e-6 });
  });
  afterEach(async () => {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('charges every population once; a job that does not fit one of them is stored in none', async () => {
    await c.ledger.admit(job('j1'), BOTH, COST);
    const after1 = await c.ledger.report('alice');
    expect(after1.map((e) => [e.population, e.jobs, e.spent.rho])).toEqual([['device', 1, 0.5], ['person', 1, 0.5]]);
    // person (ε=1) is now spent; device (ε=5) has room: the job is refused and device is not charged either.
    const err = await c.ledger.admit(job('j2'), BOTH, COST).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BUDGET_EXHAUSTED' });
    expect((err as Error).message).toMatch(/on population person \(products pumps;/);
    expect(await c.ledger.report('alice')).toEqual(after1);
    // Negative control: device alone still fits.
    await c.ledger.admit(job('j3'), [BOTH[0]!], COST);
    expect((await c.ledger.report('alice', 'device'))[0]!.jobs).toBe(2);
  });

  it('a job id is reserved once: a second reservation of it fails and changes nothing', async () => {
    await c.ledger.admit(job('j1'), [BOTH[0]!], COST);
    const before = await c.ledger.report('alice');
    await expect(c.ledger.admit(job('j1'), [BOTH[0]!], COST)).rejects.toThrow();
    expect(await c.ledger.report('alice')).toEqual(before);
  });

  it('one commit commits every population of the job, and the chain replays to the tables', async () => {
    await c.ledger.admit(job('j1'), BOTH, { rho: 0.01, epsilon: 0.1, delta: 0 });
    expect((await c.ledger.report('alice')).map((e) => e.reserved)).toEqual([1, 1]);
    await c.ledger.commit('j1');
    expect((await c.ledger.report('alice')).map((e) => e.reserved)).toEqual([0, 0]);
    await c.close();
    const check = await checkCoordinatorState(join(dir, 'state'));
    expect(check.problems).toEqual([]);
    c = await Coordinator.create({ stateDir: join(dir, 'state') });
  });

  it('a refusal names the job\'s products first and at most 20 in all, counting the rest', async () => {
    await c.ledger.admit(job('j1'), [BOTH[1]!], COST);
    const many = Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const err = (await c.ledger.admit(job('j2'), [BOTH[1]!], COST, () => many).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/\(products pumps, t00, t01, [^)]*t18 and 11 more; /);
  });
});
