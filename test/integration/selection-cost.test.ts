import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/** Issue 15 item 6: a partition-selection job is stated and charged the ε it asked for, not ε + δ/2. */
describe('partition-selection jobs cost what they request', () => {
  let mesh: TestMesh;
  let alice: CoordinatorClient;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 's1');
    await writePersonCsv(dir, makePersons(300, 11, 100_000));
    await mesh.startAgent('a1', dir, { allowModes: ['central-dp'], budgetCap: { epsilon: 3, delta: 1e-5 } });
    await mesh.waitForAgents(1);
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('alice', { population: 'person' }, 3, 1e-5);
    admin.close();
    alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
  });
  afterAll(async () => {
    alice?.close();
    await mesh?.close();
  });

  it('a budget of exactly (3, 1e-5) — coordinator and agent cap — admits an ε = 3, δ = 1e-5 group-by job without public keys; the next job is refused', async () => {
    // Before the fix the plan cost ε = 3.0000037 at δ = 1e-5 (the selection's −ln(1 − δ/2) came on top) and was refused.
    const job = await alice.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5 } });
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    const spent = (job.result!.privacy as { spent: { epsilon: number; delta: number } }).spent;
    expect(spent.delta).toBe(1e-5);
    // Stated cost: the request, never above it (≤ 1e-6 below it from the bisection that inverts the conversion).
    expect(spent.epsilon).toBeLessThanOrEqual(3);
    expect(spent.epsilon).toBeGreaterThan(3 - 1e-6);
    const e = (await alice.getBudget()).entries.find((x) => x.population === 'person')!;
    expect(e.spentEpsilon).toBeLessThanOrEqual(3);
    expect(e.spentEpsilon).toBeGreaterThan(3 - 1e-6);
    // Negative control: the budget is really used up.
    const err = await alice.submitJob({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.01 } }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(FedmeshError);
    expect((err as FedmeshError).code).toBe('BUDGET_EXHAUSTED');
  });
});
