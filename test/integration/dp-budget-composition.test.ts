/**
 * A discrete Gaussian job on the kind seam (glm here; Cox, train and the ported cell kinds in distributed-dp alike)
 * is plain ρ-zCDP: its charges compose in zCDP and convert to ε at the budget's δ. Red team 29, F2: the job's δ was
 * charged too, as an approximate-zCDP slack, so after one (ε = 0.5, δ = 1e-6) job a budget of (3, 1e-6) was
 * exhausted ("spent ε≈0.5"). Here three such jobs are admitted, their results state (0.5, 1e-6), and a fourth job
 * the budget cannot hold is still refused (the control: the ledger composes, it does not just stop counting).
 */
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCosts, costFromRho, rhoForEpsilonDelta } from '../../algorithms/dp/index.js';
import { epsilonSpent } from '../../common/job/index.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startMesh({ agentNames: ['a1'] });
  const dir = join(mesh.dir, 'data', 'a1');
  await writeCsvFromSql(dir, 'visits', `SELECT i AS person_id, i AS dob, 100.0 + (i * 37) % 60 AS sbp FROM range(300) t(i)`);
  await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ version: 1, products: { visits: { privacyUnit: 'person_id', allowedJobKinds: ['glm'] } } }));
  await mesh.startAgent('a1', dir, { allowModes: ['central-dp'], allowKinds: ['glm'], minCellSize: 5 });
  await mesh.waitForAgents(1, 60_000);
}, 120_000);
afterAll(async () => {
  await mesh?.close();
});

const glm = (epsilon: number) => ({ kind: 'glm', product: 'visits', family: 'gaussian', outcome: 'sbp', outcomeBounds: [80, 200], covariates: [{ column: 'dob', type: 'numeric', bounds: [0, 300] }], maxIterations: 2, privacy: { mode: 'central-dp', epsilon, delta: 1e-6 } });

describe('DP costs of kind-seam jobs compose in zCDP (red team 29, F2)', () => {
  it('three (0.5, 1e-6) glm jobs fit the default budget (3, 1e-6); a fourth of ε = 2.9 does not', async () => {
    const cost = (e: number) => costFromRho(rhoForEpsilonDelta(e, 1e-6));
    // The arithmetic the ledger must follow: three jobs ≈ ε 1.1 at δ = 1e-6; with a 2.9 one, over 3.
    expect(epsilonSpent(addCosts(cost(0.5), cost(0.5), cost(0.5)), 1e-6)).toBeLessThan(1.5);
    expect(epsilonSpent(addCosts(cost(0.5), cost(0.5), cost(0.5), cost(2.9)), 1e-6)).toBeGreaterThan(3);
    for (let i = 0; i < 3; i++) {
      const r = await mesh.client.run(glm(0.5));
      expect(r.error, r.error?.message).toBeUndefined();
      const g = (r.result as { privacy?: { guarantee?: { epsilon?: number; delta?: number } } }).privacy?.guarantee;
      expect(g?.epsilon).toBe(0.5);
      expect(g?.delta).toBe(1e-6);
    }
    const refused = await mesh.client.run(glm(2.9)).then((r) => r.error, (e: Error) => e);
    expect(refused?.message).toMatch(/budget/i);
  }, 180_000);
});
