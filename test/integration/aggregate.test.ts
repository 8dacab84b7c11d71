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

  it('histogram bins equal the pooled counts: [e_i, e_i+1), the last bin closed, values outside not counted', async () => {
    const edges = [1935, 1950, 1960, 1961, 1990, 2009];
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'histogram', column: 'year_of_birth', bins: edges }, { fn: 'histogram', column: 'bmi', bins: [18, 25, 30, 38] }], privacy: { mode: 'none' } });
    expect(job.error).toBeUndefined();
    const bin = (x: number | null, e: number[]): number => {
      if (x === null || x < e[0]! || x > e[e.length - 1]!) return -1;
      for (let b = 0; b < e.length - 1; b++) if (x < e[b + 1]! || b === e.length - 2) return b;
      return -1;
    };
    const count = (vals: (number | null)[], e: number[]): number[] => {
      const out = Array<number>(e.length - 1).fill(0);
      for (const v of vals) {
        const b = bin(v, e);
        if (b >= 0) out[b]!++;
      }
      return out;
    };
    for (const g of [8507, 8532]) {
      // Pooled counts, except that a bin is withheld when any one agent withholds it: 1–9 persons in it (its minimum
      // cell size), or, when one of its withheld bins or its values in no bin (missing or outside) are 1–9 persons,
      // its released bin of fewest persons (the complementary rule; one row per person here).
      const small = (n: number): boolean => n > 0 && n < 10;
      const expectHist = (pick: (p: PersonRow) => number | null, e: number[]): (number | null)[] => {
        const withheld = sites.map((s) => {
          const vals = s.filter((p) => p.gender_concept_id === g).map(pick);
          const c = count(vals, e);
          const out = c.map((n) => small(n));
          const outside = vals.length - c.reduce((a, b) => a + b, 0);
          if (out.some((w) => w) || small(outside)) {
            let pick2 = -1;
            c.forEach((n, b) => {
              if (!out[b] && n > 0 && (pick2 < 0 || n < c[pick2]!)) pick2 = b;
            });
            if (pick2 >= 0) out[pick2] = true;
          }
          return out;
        });
        return count(pooled.filter((p) => p.gender_concept_id === g).map(pick), e).map((c, b) => (withheld.some((w) => w[b]) ? null : c));
      };
      const row = job.result!.rows.find((r) => r.gender_concept_id === g)!;
      expect(row.histogram_year_of_birth).toEqual(expectHist((p) => p.year_of_birth, edges));
      expect(row.histogram_bmi).toEqual(expectHist((p) => p.bmi, [18, 25, 30, 38]));
      expect((row.histogram_year_of_birth as (number | null)[]).some((v) => v !== null && v > 0)).toBe(true);
    }
  });

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
