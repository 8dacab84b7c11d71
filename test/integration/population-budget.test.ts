import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { BudgetEntryView } from '../../client/sdk/types.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

/**
 * Issue 15 item 1, over gRPC/mTLS: a researcher spent ε = 3 on each of `person`, `measurement` and
 * `condition_occurrence`, all keyed by the same persons. Budgets are per population now: ε spent on `person`
 * counts against a job on `measurement`. A product whose operator declares another population (a device) has a
 * budget of its own.
 */
async function refusal(p: Promise<unknown>): Promise<FedmeshError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof FedmeshError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
}

const policy = { allowModes: ['none' as const, 'central-dp' as const], budgetCap: { epsilon: 1000, delta: 1e-3 } };
const count = (product: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ kind: 'aggregate', product, measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 3 }, ...extra });

describe('privacy budgets per population (issue 15 item 1)', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  let alice: CoordinatorClient;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    for (const [i, name] of ['a1', 'a2'].entries()) {
      const dir = join(mesh.dir, 'data', name);
      await writePersonCsv(dir, makePersons(200, 7 + i, (i + 1) * 100_000));
      await writeCsvFromSql(dir, 'measurement', `SELECT ${(i + 1) * 100_000} + (i % 200) AS person_id, 3004410 AS measurement_concept_id, 5.0 + (i % 7) AS value_as_number FROM range(0, 600) t(i)`);
      await writeCsvFromSql(dir, 'pumps', `SELECT 'pump-' || (i % 60) AS device_id, i % 5 AS alarms FROM range(0, 300) t(i)`);
      // a1's operator says its pumps are keyed by devices, not persons; a2's says nothing (so: person).
      if (name === 'a1') await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { pumps: { privacyUnit: 'device_id', population: 'device' } } }));
      else await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { pumps: { privacyUnit: 'device_id' } } }));
      await mesh.startAgent(name, dir, policy);
    }
    await mesh.waitForAgents(2);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    await admin.setBudget('alice', { population: 'person' }, 3, 1e-6);
    await admin.setBudget('alice', { population: 'device' }, 3, 1e-6);
  }, 60_000);
  afterAll(async () => {
    admin?.close();
    alice?.close();
    await mesh?.close();
  });

  const entries = async (): Promise<Record<string, BudgetEntryView>> =>
    Object.fromEntries((await alice.getBudget()).entries.map((e) => [e.population, e]));

  it('ε = 3 on person is admitted; ε = 3 on measurement (same persons) is refused naming population person, ledger unchanged', async () => {
    const first = await alice.run(count('person'));
    expect(first.state, JSON.stringify(first.error)).toBe('succeeded');
    const before = await entries();
    expect(before.person).toMatchObject({ jobs: 1, budgetEpsilon: 3 });

    const err = await refusal(alice.submitJob(count('measurement')));
    expect(err.code).toBe('BUDGET_EXHAUSTED');
    expect(err.details.grpcStatus).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/privacy budget exhausted for researcher alice on population person \(products [^)]*\bmeasurement\b[^)]*\bperson\b/);
    expect(await entries()).toEqual(before);
  });

  it('a job over a product two agents place in different populations is charged to both, all or none', async () => {
    const before = await entries();
    // pumps at a1 is population device (room left), at a2 population person (exhausted): nothing may be charged.
    const err = await refusal(alice.submitJob(count('pumps')));
    expect(err.code).toBe('BUDGET_EXHAUSTED');
    expect(err.message).toMatch(/on population person \(products [^)]*\bpumps\b/);
    expect(await entries()).toEqual(before);
    expect(before.device).toMatchObject({ jobs: 0, spentRho: 0 });
  });

  it('negative control: the same ε = 3 on population device (a1 only) is admitted, and the report shows each population with its products', async () => {
    const job = await alice.run(count('pumps', { agents: ['a1'] }));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    const now = await entries();
    expect(now.device).toMatchObject({ jobs: 1, products: ['pumps'] });
    expect(now.person).toMatchObject({ jobs: 1 });
    expect(now.person!.products).toEqual(expect.arrayContaining(['measurement', 'person', 'pumps']));
    expect(now.person!.products).not.toContain('device');
  });

  it('setting a budget by product maps it to the product\'s population and says so; an unknown product is refused', async () => {
    const e = await admin.setBudget('alice', { product: 'measurement' }, 6, 1e-6);
    expect(e).toMatchObject({ population: 'person', mappedFromProduct: 'measurement', budgetEpsilon: 6 });
    const unknown = await refusal(admin.setBudget('alice', { product: 'nope' }, 6, 1e-6));
    expect(unknown.code).toBe('FAILED_PRECONDITION');
    expect(unknown.message).toMatch(/served by no connected agent, so its population is not known/);
    const split = await refusal(admin.setBudget('alice', 'pumps', 6, 1e-6));
    expect(split.message).toMatch(/pumps is in 2 populations at different agents \(device, person\)/);
    const bad = await refusal(admin.setBudget('alice', { population: 'a b' }, 6, 1e-6));
    expect(bad.code).toBe('INVALID_ARGUMENT');
    // The raised person budget now admits the measurement job that was refused.
    const job = await alice.run(count('measurement'));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
  });
});
