/**
 * Red team 26, F5: a mode-none glm released `nDropped` (rows selected but unusable: missing, an unlisted level, an
 * invalid value) exactly, with no minimum cell size and outside the differencing guard, which saw only the used rows'
 * persons. Listing every level but one made it the count of that level's holders (3 persons with "HIV", k = 5), and a
 * second job without the target (same used rows, so the guard passed) told by 3 → 2 that the target held it.
 *
 * Now, in mode none, an agent sends nDropped only when its dropped rows are of at least k persons (else 0), and puts
 * the dropped persons through the guard as a set of their own. Over a real agent (mTLS, DuckDB):
 * - 3 holders: nDropped is 0 in both jobs; nothing tells them apart (on db1c138: 3, then 2);
 * - 12 holders: nDropped 12 is released; the job without one of them is refused by the guard (on db1c138: 11);
 * - controls: the same job again passes with the same figure; the used rows' guard is unchanged.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

const K = 5;
let mesh: TestMesh;

beforeAll(async () => {
  mesh = await startMesh({ agentNames: ['a1'] });
  const dir = join(mesh.dir, 'data', 'a1');
  // 300 persons. diag: 'HIV' held by persons 7, 150 (the target) and 222 only. grp: 'C' held by the 12 persons i ≡ 3 (mod 25).
  await writeCsvFromSql(
    dir,
    'visits',
    `SELECT i AS person_id, i AS dob,
            CASE WHEN i IN (7, 150, 222) THEN 'HIV' WHEN i % 2 = 0 THEN 'A' ELSE 'B' END AS diag,
            CASE WHEN i % 25 = 3 THEN 'C' WHEN i % 3 = 0 THEN 'A' ELSE 'B' END AS grp,
            100.0 + (i * 37) % 60 AS sbp
       FROM range(300) t(i)`,
  );
  await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ version: 1, products: { visits: { privacyUnit: 'person_id', allowedJobKinds: ['glm'] } } }));
  await mesh.startAgent('a1', dir, { allowModes: ['none'], allowKinds: ['glm'], minCellSize: K });
  await mesh.waitForAgents(1, 60_000);
}, 120_000);
afterAll(async () => mesh?.close());

const job = (column: 'diag' | 'grp', where: unknown[] = []) => ({
  kind: 'glm',
  product: 'visits',
  family: 'gaussian',
  outcome: 'sbp',
  outcomeBounds: [80, 200],
  covariates: [{ column, type: 'categorical', levels: ['A', 'B'], reference: 'A' }],
  where,
  privacy: { mode: 'none' },
});
const nDropped = (r: { result?: unknown }): number | undefined => (r.result as { summary?: { nDropped?: number } } | undefined)?.summary?.nDropped;

describe('glm in mode none: the dropped rows are a released set like any other', () => {
  it('dropped rows of fewer than k persons report 0: the job with and the job without the target look the same', async () => {
    const all = await mesh.client.run(job('diag'));
    expect(all.error, all.error?.message).toBeUndefined();
    const minus = await mesh.client.run(job('diag', [{ column: 'dob', op: '!=', value: 150 }]));
    expect(minus.error, minus.error?.message).toBeUndefined();
    expect(nDropped(all)).toBe(0);
    expect(nDropped(minus)).toBe(0);
  });

  it('dropped rows of k persons or more are released, and a job whose dropped persons differ by one is refused by the guard; control: the same job again passes', async () => {
    const all = await mesh.client.run(job('grp'));
    expect(all.error, all.error?.message).toBeUndefined();
    expect(nDropped(all)).toBe(12);
    const again = await mesh.client.run(job('grp'));
    expect(again.error, again.error?.message).toBeUndefined();
    expect(nDropped(again)).toBe(12);
    // Person 153 holds C: without it the used rows are the same, the dropped persons one fewer.
    const minus = await mesh.client.run(job('grp', [{ column: 'dob', op: '!=', value: 153 }]));
    expect(minus.state).toBe('failed');
    expect(minus.error?.message).toMatch(/a1: POLICY_DENIED: .*differ/);
    expect(JSON.stringify(minus.result ?? {})).not.toMatch(/"nDropped":11/);
  });
});
