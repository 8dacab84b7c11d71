import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePersons, writePersonCsv, type PersonRow } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

describe('aggregate job across three agents over mTLS', () => {
  let mesh: TestMesh;
  const sites: PersonRow[][] = [makePersons(400, 1, 1), makePersons(300, 2, 10_001), makePersons(250, 3, 20_001)];
  const pooled = sites.flat();

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'] });
    for (const [i, rows] of sites.entries()) {
      const dir = join(mesh.dir, 'data', `site-${i + 1}`);
      await writePersonCsv(dir, rows);
      await mesh.startAgent(`a${i + 1}`, dir);
    }
    await mesh.waitForAgents(3);
  });
  afterAll(async () => mesh?.close());

  it('grouped count and mean equal the pooled answer exactly', async () => {
    const job = await mesh.client.run({
      kind: 'aggregate',
      product: 'person',
      where: [{ column: 'year_of_birth', op: '>=', value: 1950 }],
      groupBy: ['gender_concept_id'],
      measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }],
      privacy: { mode: 'none' },
    });
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    for (const g of [8507, 8532]) {
      const rows = pooled.filter((p) => p.year_of_birth >= 1950 && p.gender_concept_id === g);
      const row = job.result!.rows.find((r) => r.gender_concept_id === g)!;
      expect(row.count).toBe(rows.length);
      const sum = rows.reduce((s, r) => s + BigInt(r.year_of_birth), 0n);
      expect(row.mean_year_of_birth).toBe(Number(sum) / rows.length);
    }
  });
});
