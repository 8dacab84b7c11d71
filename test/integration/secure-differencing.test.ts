import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

/**
 * Red-team finding F5: in mode none a secure sum releases exact totals, and nothing is withheld per agent inside it —
 * a cell of 8 persons at each of three sites is released as 24 with k = 10. Before the fix the differencing guard
 * looked only at local cells of at least k persons (seam contingency) or did not run at all (the built-in secure path
 * of aggregate, cohort, characterize, survival and HE contingency), so two secagg jobs whose `where` differed by one
 * person were both released and their difference named that person. Now every non-empty local cell is a candidate
 * (node-agent/secure/secure-guard.ts, jobs/contingency/agent.ts). Over gRPC/mTLS, three real agents, k = 10.
 */
describe('differencing guard inside secure sums, mode none (red-team F5)', () => {
  let mesh: TestMesh;
  const sites = ['s1', 's2', 's3'];
  const clients: CoordinatorClient[] = [];
  /** A researcher of its own per case, so that the cases' memories do not refuse one another. */
  const as = (name: 'researcher' | 'alice'): CoordinatorClient => {
    if (name === 'researcher') return mesh.client;
    const c = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', name) });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: sites });
    // At every site 40 persons: 32 born 1940–1959, and 8 born 1970 or later — below k = 10 at each site, 24 in all.
    // Site s1's person 33 is the only one born exactly in 1970.
    for (const [si, s] of sites.entries()) {
      const dir = join(mesh.dir, 'data', s);
      await writeCsvFromSql(dir, 'person', `
        SELECT ${si * 1000} + i AS person_id, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id,
               CASE WHEN i <= 32 THEN 1940 + i % 20 WHEN i = 33 AND ${si} = 0 THEN 1970 ELSE 1971 + i % 5 END AS year_of_birth
          FROM range(1, 41) t(i)`);
      await mesh.startAgent(s, dir, { allowModes: ['none'], minCellSize: 10 });
    }
    await mesh.waitForAgents(3, 60_000);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await mesh?.close();
  });

  const count = (where: unknown[]): unknown => ({ kind: 'aggregate', product: 'person', where, measures: [{ fn: 'count' }], privacy: { mode: 'none' }, secure: 'secagg', agents: sites });
  const table = (where: unknown[]): unknown => ({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], where, privacy: { mode: 'none' }, secure: 'secagg', agents: sites });

  it('aggregate (built-in secure path): born ≥ 1970, then > 1970 — one person fewer at s1 — the second is refused by s1', async () => {
    const c = as('researcher');
    const first = await c.run(count([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
    expect(first.error).toBeUndefined();
    expect(first.result!.rows).toEqual([{ count: 24 }]);
    const second = await c.run(count([{ column: 'year_of_birth', op: '>', value: 1970 }]));
    expect(second.state).toBe('failed');
    expect(second.result).toBeUndefined();
    expect(second.error!.message).toMatch(/s1: (POLICY_DENIED: )?(round 1: )?differencing guard \(mode none\)/);
    // Negative control: counts whose person sets differ by at least k at every site both pass.
    const a = await c.run(count([{ column: 'year_of_birth', op: '<', value: 1950 }]));
    const b = await c.run(count([{ column: 'year_of_birth', op: '<', value: 1960 }]));
    expect(a.error).toBeUndefined();
    expect(b.error).toBeUndefined();
    expect(a.result!.rows).toEqual([{ count: 57 }]);
    expect(b.result!.rows).toEqual([{ count: 96 }]);
  }, 120_000);

  it('contingency (kind seam, secagg): the same table over a filter moved by one person is refused; a far filter passes', async () => {
    const c = as('alice');
    const first = await c.run(table([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
    expect(first.error).toBeUndefined();
    expect(first.result!.summary!.table).toEqual([[12, 0], [0, 12]]);
    const second = await c.run(table([{ column: 'year_of_birth', op: '>', value: 1970 }]));
    expect(second.state).toBe('failed');
    expect(second.error!.message).toMatch(/s1: (POLICY_DENIED: )?differencing guard \(mode none\)/);
    // Negative control: every cell's persons differ by at least 11 ≥ k at every site between the two filters.
    const far1 = await c.run(table([{ column: 'year_of_birth', op: '<', value: 1945 }]));
    const far2 = await c.run(table([{ column: 'year_of_birth', op: '<', value: 1960 }]));
    expect(far1.error).toBeUndefined();
    expect(far2.error).toBeUndefined();
  }, 120_000);
});
