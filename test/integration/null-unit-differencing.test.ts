import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

/**
 * Red team: a row whose privacy unit is NULL counted for release (glm and train counted it as a person of its own,
 * aggregate summed it) but was in no guarded person set, as the differencing guard keys persons by their unit. Two
 * mode-none jobs whose `where` differ only by that row released the same guarded set, so the guard passed, and
 * subtracting the two releases gave the row's values. Now the agent's data scope leaves every row without a unit out
 * (node-agent/policy/consent-scope.ts), and the readers drop it too: both jobs are released and equal.
 *
 * Product `people`: persons 1–49 born 1940–1959, 51–100 born 1980–1999, and one row without a unit born 1970 (alone in
 * 1960–1979) whose values stand out. `born >= 1960` and `born > 1970` select the same 50 persons, the first one also
 * the row. Control product `people_u`: the same rows with that row's unit set (person 101), where the guard refuses
 * the second job of each pair (the pair does move the row in and out, and the guard sees a person who has a unit).
 * Over gRPC/mTLS with a real agent.
 */
describe('a row without a privacy unit in mode none (differencing)', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 'persons');
    const rows = (loose: string): string => `
      SELECT i AS person_id, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id,
             CASE WHEN i < 50 THEN 1940 + i % 20 ELSE 1980 + i % 20 END AS year_of_birth,
             (i % 7)::DOUBLE AS score, CASE WHEN i % 3 = 0 THEN 'test' ELSE 'train' END AS side
        FROM range(1, 101) t(i) WHERE i <> 50
      UNION ALL SELECT ${loose}, 8507, 1970, 1000.0, 'train'
      UNION ALL SELECT ${loose}, 8507, 1970, 1000.0, 'test'`;
    await writeCsvFromSql(dir, 'people', rows('NULL'));
    await writeCsvFromSql(dir, 'people_u', rows('101'));
    const open = { privacyUnit: 'person_id', allowedJobKinds: ['aggregate', 'fl', 'glm'] };
    await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ version: 1, products: { people: open, people_u: open } }));
    await mesh.startAgent('a1', dir, { allowModes: ['none'], allowKinds: ['aggregate', 'train', 'glm'], minCellSize: 10 });
    await mesh.waitForAgents(1, 60_000);
  }, 120_000);
  afterAll(async () => mesh?.close());

  /**
   * What each job of a pair released (its result less run-to-run fields), or the refusal, as `researcher`: the
   * pairs over `people` share alice's memory (they release the same 50 persons); each control has a memory of its own.
   */
  const pair = async (researcher: string, job: (op: string) => Record<string, unknown>): Promise<[string, string]> => {
    const client = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', researcher) });
    try {
      const out: string[] = [];
      for (const op of ['>=', '>']) {
        const r = await client.run({ ...job(op), agents: ['a1'] });
        out.push(r.error ? `refused: ${r.error.message}` : JSON.stringify(r.result, (k, v: unknown) => (/Ms$|^jobId$|^id$|^submittedAt|^finishedAt/.test(k) ? undefined : v)));
      }
      return out as [string, string];
    } finally {
      client.close();
    }
  };
  const where = (op: string): unknown[] => [{ column: 'year_of_birth', op, value: op === '>' ? 1970 : 1960 }];

  const glm = (product: string) => (op: string): Record<string, unknown> => ({
    kind: 'glm', product, family: 'gaussian', outcome: 'score', outcomeBounds: [-1, 2000],
    covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], where: where(op), quorum: 1, privacy: { mode: 'none' },
  });
  const train = (product: string) => (op: string): Record<string, unknown> => ({
    kind: 'train', product, label: 'score', loss: 'mse', features: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532] }],
    split: { column: 'side', train: 'train', test: 'test' }, where: where(op), model: { type: 'linear' }, training: { rounds: 1 }, participation: { minUpdates: 1 }, privacy: { mode: 'none' },
  });
  const aggregate = (product: string) => (op: string): Record<string, unknown> => ({
    kind: 'aggregate', product, where: where(op), measures: [{ fn: 'count' }, { fn: 'sum', column: 'score', bounds: [0, 1000] }, { fn: 'mean', column: 'score', bounds: [0, 1000] }], privacy: { mode: 'none' },
  });

  for (const [name, job, control] of [['glm', glm, 'bob'], ['train (split column)', train, 'carol'], ['aggregate', aggregate, 'researcher']] as const) {
    it(`${name}: the two jobs are both released and equal, so their difference reveals nothing of the row`, async () => {
      const [first, second] = await pair('alice', job('people'));
      expect(first).not.toMatch(/^refused/);
      expect(second).not.toMatch(/^refused/);
      expect(second).toEqual(first);
    }, 120_000);

    it(`${name}, control: with a unit on that row the same pair differs by one person, and the guard refuses the second`, async () => {
      const [first, second] = await pair(control, job('people_u'));
      expect(first).not.toMatch(/^refused/);
      expect(second).toMatch(/^refused: .*\ba1: (POLICY_DENIED: )?differencing guard \(mode none\)/);
    }, 120_000);
  }
});
