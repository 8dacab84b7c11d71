import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PrivacyCost } from '../algorithms/dp/index.js';
import { epsilonSpent, parseJobSpec } from '../common/job/index.js';
import type { JobRecord } from './job-record.js';
import { JobStore } from './job-store.js';
import { Ledger } from './ledger.js';
import { headPath } from './state/state-head.js';

/**
 * The coordinator's ledger on its own store, without a coordinator or a mesh (issue 9, test pyramid): reservations
 * before compute, all-or-none and atomic under concurrency, committed and never refunded, durable across a restart.
 * (ledger-populations.test.ts covers several populations per job; state-integrity.test.ts the hash chain.)
 */
const SPEC = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } });
const job = (id: string, researcher = 'alice'): JobRecord => ({ id, kind: 'aggregate', researcher, spec: SPEC, state: 'running', createdAtMs: 1, finishedAtMs: undefined, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined });
const PERSON = [{ population: 'person', products: ['person'] }];
/** Pure ε = 0.3 per job: budgets add up exactly in ε. */
const COST: PrivacyCost = { rho: 0.045, epsilon: 0.3, delta: 0 };
const DEFAULT = { epsilon: 3, delta: 1e-6 };

describe('coordinator ledger', () => {
  let dir: string;
  let store: JobStore;
  let ledger: Ledger;
  const open = async (): Promise<void> => {
    store = await JobStore.open(dir);
    ledger = await Ledger.open(store, DEFAULT, { stateDir: dir, headFile: headPath(dir) });
  };
  const close = async (): Promise<void> => {
    await ledger.flush();
    store.close();
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ledger-'));
    await open();
  });
  afterEach(async () => {
    await close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the default budget applies until one is set; a reservation shows as reserved, then committed', async () => {
    await ledger.admit(job('j1'), PERSON, COST);
    let [e] = await ledger.report('alice');
    expect(e).toMatchObject({ researcher: 'alice', population: 'person', products: ['person'], budget: DEFAULT, explicit: false, jobs: 1, reserved: 1 });
    expect(e!.spent.epsilon).toBeCloseTo(0.3, 12);
    await ledger.commit('j1');
    [e] = await ledger.report('alice');
    expect(e!.reserved).toBe(0);
    expect(e!.jobs).toBe(1);
    // Committing twice, or a job never reserved, changes nothing.
    await ledger.commit('j1');
    await ledger.commit('nope');
    expect((await ledger.report('alice'))[0]).toEqual(e);
    const set = await ledger.setBudget('alice', 'person', { epsilon: 0.5, delta: 1e-6 }, 'admin');
    expect(set).toMatchObject({ explicit: true, budget: { epsilon: 0.5, delta: 1e-6 } });
    expect(set.remainingEpsilon).toBeCloseTo(0.2, 9);
  });

  it('refuses the job that would overspend with BUDGET_EXHAUSTED naming the population, and stores nothing of it', async () => {
    await ledger.setBudget('alice', 'person', { epsilon: 1, delta: 1e-6 }, 'admin');
    for (const id of ['j1', 'j2', 'j3']) await ledger.admit(job(id), PERSON, COST);
    const err = await ledger.admit(job('j4'), PERSON, COST).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BUDGET_EXHAUSTED', field: 'privacy', details: { population: 'person' } });
    expect((err as Error).message).toMatch(/researcher alice on population person \(products person;.*budget ε=1 δ=0\.000001, spent ε≈0\.9000/);
    expect((await ledger.report('alice'))[0]!.jobs).toBe(3);
    expect(await store.get('j4')).toBeUndefined();
    expect(await store.get('j3')).toBeDefined();
    // Budgets are per researcher: bob is not charged for alice's jobs.
    await ledger.admit(job('b1', 'bob'), PERSON, COST);
    expect((await ledger.report('bob'))[0]!.jobs).toBe(1);
  });

  it('concurrent reservations cannot overspend: of 10 racing jobs that fit 3 times, exactly 3 are admitted', async () => {
    await ledger.setBudget('alice', 'person', { epsilon: 1, delta: 1e-6 }, 'admin');
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => ledger.admit(job(`r${i}`), PERSON, COST)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'BUDGET_EXHAUSTED' });
    const [e] = await ledger.report('alice');
    expect(e!.jobs).toBe(3);
    expect(epsilonSpent({ rho: e!.spent.rho, epsilon: e!.spent.epsilon, delta: e!.spent.delta }, 1e-6)).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('a job id is reserved once; mode none (no cost) stores the job without a charge', async () => {
    await ledger.admit(job('j1'), PERSON, COST);
    await expect(ledger.admit(job('j1'), PERSON, COST)).rejects.toThrow();
    expect((await ledger.report('alice'))[0]!.jobs).toBe(1);
    await ledger.admit(job('none1'), PERSON, undefined);
    expect(await store.get('none1')).toBeDefined();
    expect((await ledger.report('alice'))[0]!.jobs).toBe(1);
    await expect(ledger.admit(job('j9'), [], COST)).rejects.toThrow(RangeError);
  });

  it('spend survives a restart, and a reservation interrupted by it stays spent (never refunded)', async () => {
    await ledger.admit(job('done'), PERSON, COST);
    await ledger.commit('done');
    await ledger.admit(job('interrupted'), PERSON, COST);
    const before = (await ledger.report('alice'))[0]!;
    expect(before.reserved).toBe(1);
    await close();
    await open();
    const after = (await ledger.report('alice'))[0]!;
    expect(after.jobs).toBe(2);
    expect(after.reserved).toBe(0);
    expect(after.spent).toEqual(before.spent);
  });

  it('negative: setBudget refuses bad names and budgets naming the field, and changes nothing', async () => {
    const bad: [string, string, { epsilon: number; delta: number }, string][] = [
      ['al ice', 'person', DEFAULT, 'researcher'],
      ['alice', 'no such/pop', DEFAULT, 'population'],
      ['alice', 'person', { epsilon: -1, delta: 1e-6 }, 'budget'],
      ['alice', 'person', { epsilon: 1, delta: 2 }, 'budget'],
    ];
    for (const [r, p, b, field] of bad) await expect(ledger.setBudget(r, p, b, 'admin'), field).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field });
    expect(await ledger.report()).toEqual([]);
  });
});
