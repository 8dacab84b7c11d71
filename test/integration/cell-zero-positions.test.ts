/**
 * Red team 41, mode none: no released 0 may sit next to a withheld cell of the same few persons, and no line of a
 * contingency table may give a withheld count back by subtraction.
 * - F1: a cohort of 3 diabetics whose gender is 'unknown' was withheld, but its empty age bands, concepts and
 *   Kaplan–Meier bins were released as 0 beside the withheld ones (their ages, what they have and have not, the years
 *   they were censored); a contingency table filtered to one person showed their gender and diagnosis.
 * - F2: a table's row total (a count job) minus the row's released cells gave a withheld cell of 2 persons back.
 * Controls: the same jobs on groups of at least k release their zeros and cells.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { synthesize } from '../../client/tools/synth/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

const K = 10; // the test agents' minimum cell size (the agent's default)

const few = {
  name: 'diabetes, gender unknown',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [{ name: 'unknown gender', type: 'gender', conceptIds: [8551] }],
};
const all = { name: 'diabetes', entry: few.entry, observation: few.observation };

describe('mode none: withheld cells and zeros of a few persons (red team 41, F1)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['c1'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 1, persons: 800, seed: 11, format: 'csv' });
    const d = synth.sites[0]!.dir;
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(`CREATE TABLE p AS SELECT * FROM read_csv_auto('${d}/person.csv')`);
    await c.run(`UPDATE p SET gender_concept_id = 8551 WHERE person_id IN (SELECT DISTINCT person_id FROM read_csv_auto('${d}/condition_occurrence.csv') WHERE condition_concept_id = 201826 ORDER BY person_id LIMIT 3)`);
    await c.run(`COPY p TO '${d}/person.csv' (HEADER)`);
    c.closeSync();
    db.closeSync();
    await mesh.startAgent('c1', d, { allowModes: ['none'], allowKinds: ['aggregate', 'cohort', 'survival', 'characterize', 'contingency'] });
    await mesh.waitForAgents(1, 60_000);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('cohort: a withheld cohort releases no age band or gender, zeros included; control: the whole cohort releases its zeros', async () => {
    const c = await mesh.client.run({ kind: 'cohort', definition: few, privacy: { mode: 'none' } });
    const s = c.result!.summary as { count: number | null; byAgeBand: { count: number | null }[]; byGender: { count: number | null }[] };
    expect(s.count).toBeNull();
    expect([...s.byAgeBand, ...s.byGender].every((b) => b.count === null)).toBe(true);
    const ok = await mesh.client.run({ kind: 'cohort', definition: all, privacy: { mode: 'none' } });
    const t = ok.result!.summary as { count: number | null; byGender: { count: number | null }[] };
    expect(t.count).toBeGreaterThanOrEqual(K);
    expect(t.byGender.some((g) => g.count !== null && g.count >= K)).toBe(true);
  }, 60_000);

  it('characterize: a withheld cohort releases no concept count, zeros included', async () => {
    const ch = await mesh.client.run({ kind: 'characterize', definition: few, conditionConcepts: [201826, 320128, 4329847, 316866, 255573], drugConcepts: [1503297, 1310149], privacy: { mode: 'none' } });
    const s = ch.result!.summary as { count: number | null; conditions: { persons: number | null }[]; drugs: { persons: number | null }[] };
    expect(s.count).toBeNull();
    expect([...s.conditions, ...s.drugs].every((x) => x.persons === null)).toBe(true);
  }, 60_000);

  it('survival: a withheld stratum releases none of its endpoint bins, zeros included', async () => {
    const km = await mesh.client.run({ kind: 'survival', target: few, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, strata: 'none', privacy: { mode: 'none' } });
    const withheld = new Set(km.result!.suppressed.map((x) => String(x.group.cell)));
    expect(withheld.has('n:all')).toBe(true);
    for (let i = 0; i < 10; i++) for (const p of ['e', 'c']) expect(withheld.has(`${p}:all:${i}`)).toBe(true);
  }, 60_000);

});

describe('mode none: a contingency table gives no small count back (red team 41, F1 and F2)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 'persons');
    // 100 persons: group A 1–60, B 61–97, C (rare) 98–100; gender alternates; person 50 alone born in 1970, with HIV.
    await writeCsvFromSql(
      dir,
      'person',
      `SELECT i AS person_id, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id,
        CASE WHEN i = 50 THEN 1970 ELSE 1940 + i % 20 END AS year_of_birth,
        CASE WHEN i = 50 THEN 'HIV' WHEN i % 3 = 0 THEN 'flu' ELSE 'none' END AS dx,
        CASE WHEN i <= 60 THEN 'A' WHEN i <= 97 THEN 'B' ELSE 'C' END AS grp FROM range(1, 101) t(i)`,
    );
    await mesh.startAgent('a1', dir, { allowModes: ['none'], allowKinds: ['aggregate', 'contingency'] });
    await mesh.waitForAgents(1, 60_000);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('F1: a table of one person shows nothing, zeros included', async () => {
    const t = await mesh.client.run({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'dx', rowLevels: [8507, 8532], colLevels: ['HIV', 'flu', 'none'], where: [{ column: 'year_of_birth', op: '=', value: 1970 }], privacy: { mode: 'none' } });
    expect(t.error, t.error?.message).toBeUndefined();
    expect((t.result!.summary as { table: (number | null)[][] }).table.flat().every((x) => x === null)).toBe(true);
  }, 60_000);

  it('F2: a row total from a count minus the row\'s released cells is 0 or at least k', async () => {
    const table = await mesh.client.run({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'grp', rowLevels: [8507, 8532], colLevels: ['A', 'B', 'C'], privacy: { mode: 'none' } });
    expect(table.error, table.error?.message).toBeUndefined();
    const s = table.result!.summary as { table: (number | null)[][]; outside?: number | null; ambiguous?: number | null };
    const byGender = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    const rows = byGender.result!.rows as { gender_concept_id: number; count: number }[];
    [8507, 8532].forEach((g, r) => {
      const total = rows.find((x) => Number(x.gender_concept_id) === g)!.count;
      const derived = total - s.table[r]!.reduce<number>((a, x) => a + (x ?? 0), 0) - Number(s.outside ?? 0) - Number(s.ambiguous ?? 0);
      expect(derived === 0 || derived >= K, `row ${g}: ${derived}`).toBe(true);
    });
    // The table holds 3 persons in group C: withheld whole (DataSHIELD's rule, red team 42). Control: without C it is released.
    expect(s.table.flat().every((x) => x === null)).toBe(true);
    // (Another researcher: to this one the guard refuses these persons' cells now, remembered as withheld.)
    const alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    const ab = await alice.run({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'grp', rowLevels: [8507, 8532], colLevels: ['A', 'B'], where: [{ column: 'grp', op: 'in', value: ['A', 'B'] }], privacy: { mode: 'none' } });
    expect(ab.error, ab.error?.message).toBeUndefined();
    expect((ab.result!.summary as { table: (number | null)[][] }).table).toEqual([
      [30, 18],
      [30, 19],
    ]);
    alice.close();
  }, 60_000);
});
