/**
 * Red team 9, F3, through the characterize kind's agent step on a synthetic OMOP site: a concept listed with its
 * descendant in one mode-none job. The vocabulary is given an ancestor A of hypertension H and of a rare concept R
 * that three persons of the cohort (without H) hold, so A's persons are H's plus those three: released side by side,
 * A − H would disclose a cell of 3 persons. The step withholds H (listed after A); the control shows the exact cells
 * differ by 1 … k − 1 without the rule, and that at a k no larger than the difference both are released.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/synthesize.js';
import { compileKindJob, type AgentKindContext, WITHHELD, withholdSmallCells } from '../../common/kinds/index.js';
import { computeCells } from '../../node-agent/jobs/cell-jobs.js';
import { ReleasedCells } from '../../node-agent/disclosure/released-cells.js';
import { characterizeAgentKind } from './agent.js';
import { characterizeKind } from './index.js';

const A = 9_000_001;
const H = 320128;
const R = 9_000_002;
const definition = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };
const spec = { kind: 'characterize', definition, ageBands: [0, 200], conditionConcepts: [A, H], drugConcepts: [], windowDays: [-365, 0], privacy: { mode: 'none' } };

describe('characterize in mode none: a concept and its descendant in one job', () => {
  let conn: DuckDBConnection;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-wj-'));
    const synth = await synthesize({ outDir: dir, sites: 1, persons: 1000, seed: 11, format: 'parquet' });
    conn = await (await DuckDBInstance.create(':memory:')).connect();
    for (const f of readdirSync(synth.sites[0]!.dir).filter((x) => x.endsWith('.parquet'))) {
      await conn.run(`CREATE TABLE "${f.replace(/\.parquet$/, '')}" AS SELECT * FROM read_parquet('${join(synth.sites[0]!.dir, f)}')`);
    }
    await conn.run(`INSERT INTO concept_ancestor BY NAME SELECT * FROM (VALUES (${A}, ${A}, 0, 0), (${A}, ${H}, 1, 1), (${A}, ${R}, 1, 1), (${R}, ${R}, 0, 0)) v(ancestor_concept_id, descendant_concept_id, min_levels_of_separation, max_levels_of_separation)`);
    // Three persons of the cohort without hypertension in the window get R on their index date.
    await conn.run(`CREATE TABLE idx AS SELECT person_id, min(condition_start_date) AS d FROM condition_occurrence WHERE condition_concept_id = 201826 GROUP BY person_id`);
    await conn.run(`INSERT INTO condition_occurrence BY NAME
      SELECT 900000000 + row_number() OVER () AS condition_occurrence_id, person_id, ${R} AS condition_concept_id, 32817 AS condition_type_concept_id, d AS condition_start_date, d AS condition_end_date
        FROM (SELECT i.person_id, i.d FROM idx i JOIN observation_period o ON o.person_id = i.person_id AND i.d BETWEEN o.observation_period_start_date AND o.observation_period_end_date
               WHERE NOT EXISTS (SELECT 1 FROM condition_occurrence c WHERE c.person_id = i.person_id AND c.condition_concept_id = ${H} AND c.condition_start_date BETWEEN i.d - INTERVAL 365 DAY AND i.d)
               ORDER BY i.person_id LIMIT 3)`);
  }, 120_000);
  afterAll(() => {
    conn?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = compileKindJob(characterizeKind, spec);
  const cells = job.plan.blocks.flatMap((b) => b.cells);
  async function step(minCellSize: number): Promise<{ values: Float64Array; candidates: string[] }> {
    const candidates: string[] = [];
    const ctx: AgentKindContext = {
      conn, jobId: `wj${minCellSize}`, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize }, jobState: new Map(),
      guardReleasedSets: async (c, table) => void candidates.push(...(await c.runAndReadAll(`SELECT DISTINCT cell FROM "${table}"`)).getRowObjectsJS().map((r) => String(r['cell']))),
    };
    const v = await characterizeAgentKind.localStep(ctx, job, null, new AbortController().signal);
    return { values: Float64Array.from(v.values), candidates };
  }

  it('withholds the descendant, keeps the ancestor, and the guard neither compares nor remembers the withheld cell', async () => {
    const exact = await computeCells(conn, job.spec, 'wj-exact');
    const a = Number(exact.get(`condition:${A}`));
    const h = Number(exact.get(`condition:${H}`));
    // Control: without the rule the two exact cells, both ≥ k, give a cell of 1 … k − 1 persons by subtraction.
    expect(h).toBeGreaterThanOrEqual(5);
    expect(a - h).toBe(3);
    const { values, candidates } = await step(5);
    expect(values[cells.indexOf(`condition:${H}`)]).toBe(WITHHELD);
    expect(values[cells.indexOf(`condition:${A}`)]).toBe(a);
    expect(values[cells.indexOf('persons')]).toBe(Number(exact.get('persons')));
    expect(candidates).toContain(`condition:${A}`);
    expect(candidates).not.toContain(`condition:${H}`);
  }, 60_000);

  it('control: at k = 3, a difference of 3 persons is allowed and both cells are released', async () => {
    const { values, candidates } = await step(3);
    expect(values[cells.indexOf(`condition:${H}`)]).toBeGreaterThan(0);
    expect(values[cells.indexOf(`condition:${A}`)]! - values[cells.indexOf(`condition:${H}`)]!).toBe(3);
    expect(candidates).toContain(`condition:${H}`);
  }, 60_000);

  it('a concept identical to a band the complementary rules withhold is withheld too (red team 10, F3; control: the exact cells give the small band back)', async () => {
    const k = 5;
    const R3 = 9_000_003;
    // Ages at the index date of the cohort's persons, as characterize computes them (year of index − year of birth).
    const ages = (await conn.runAndReadAll(`SELECT year(i.d) - p.year_of_birth AS age FROM idx i JOIN person p USING (person_id) JOIN observation_period o ON o.person_id = i.person_id AND i.d BETWEEN o.observation_period_start_date AND o.observation_period_end_date ORDER BY 1`)).getRowObjectsJS().map((r) => Number(r['age']));
    // Bands: the youngest age alone (1 … k − 1 persons: withheld as small), then a band of about k + 2 persons (the
    // smallest released, so complementary suppression withholds it), then everyone else.
    const e1 = ages[0]! + 1;
    const e2 = ages[ages.findIndex((a) => a >= e1) + k + 2]! + 1;
    const bands = [0, e1, e2, 200];
    const job2 = compileKindJob(characterizeKind, { ...spec, ageBands: bands, conditionConcepts: [R3] });
    await conn.run(`INSERT INTO concept_ancestor BY NAME SELECT ${R3} AS ancestor_concept_id, ${R3} AS descendant_concept_id, 0 AS min_levels_of_separation, 0 AS max_levels_of_separation`);
    await conn.run(`INSERT INTO condition_occurrence BY NAME
      SELECT 910000000 + row_number() OVER () AS condition_occurrence_id, i.person_id, ${R3} AS condition_concept_id, 32817 AS condition_type_concept_id, i.d AS condition_start_date, i.d AS condition_end_date
        FROM idx i JOIN person p USING (person_id) WHERE year(i.d) - p.year_of_birth BETWEEN ${e1} AND ${e2 - 1}`);
    const exact = await computeCells(conn, job2.spec, 'wj-f3');
    const [b0, b1, b2] = [`age:${bands[0]}-${e1 - 1}`, `age:${e1}-${e2 - 1}`, `age:${e2}+`].map((c) => Number(exact.get(c) ?? -1)) as [number, number, number];
    // The structure the case needs, and the control: persons − R3 − the last band = the small band.
    expect(b0).toBeGreaterThanOrEqual(1);
    expect(b0).toBeLessThan(k);
    expect(b1).toBeGreaterThanOrEqual(k);
    expect(b1).toBeLessThan(b2);
    expect(Number(exact.get(`condition:${R3}`))).toBe(b1);
    expect(Number(exact.get('persons')) - Number(exact.get(`condition:${R3}`)) - b2).toBe(b0);
    const ctx: AgentKindContext = { conn, jobId: 'wjf3', round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize: k }, jobState: new Map(), guardReleasedSets: async () => undefined };
    const v = (await characterizeAgentKind.localStep(ctx, job2, null, new AbortController().signal)).values;
    const after = withholdSmallCells(characterizeKind.layout(job2, 0), { values: Float64Array.from(v) }, k).vector.values;
    const cells2 = job2.plan.blocks.flatMap((b) => b.cells);
    expect(after[cells2.indexOf(`age:${e1}-${e2 - 1}`)]).toBe(WITHHELD);
    expect(after[cells2.indexOf(`condition:${R3}`)]).toBe(WITHHELD);
    expect(after[cells2.indexOf('persons')]).toBe(Number(exact.get('persons')));

    // Red team 12: a second job asks for that band's persons as a concept, with bands that do not split them out.
    // The guard remembers the first job's band as withheld, so the concept (0 persons from it) is refused; another
    // researcher, with no such memory, gets it (control).
    const memory = await ReleasedCells.open(conn);
    let runs = 0;
    const guarded = (researcher: string): AgentKindContext => ({ ...ctx, jobId: `wjf3-${researcher}-${(runs++).toString()}`, guardReleasedSets: (c, cand, withheld) => memory.checkAndRecord(c, { researcher, jobId: 'j', candidates: cand, minCellSize: k, maxRememberedPersons: 1_000_000, ...(withheld ? { withheld } : {}) }).then(() => undefined) });
    const job1 = compileKindJob(characterizeKind, { ...spec, ageBands: bands, conditionConcepts: [H] });
    const job3 = compileKindJob(characterizeKind, { ...spec, ageBands: [0, 200], conditionConcepts: [R3] });
    await characterizeAgentKind.localStep(guarded('eve'), job1, null, new AbortController().signal);
    await expect(characterizeAgentKind.localStep(guarded('eve'), job3, null, new AbortController().signal)).rejects.toThrow(/within 4 persons of a cell withheld from you/);
    const other = (await characterizeAgentKind.localStep(guarded('dan'), job3, null, new AbortController().signal)).values;
    expect(other[job3.plan.blocks.flatMap((b) => b.cells).indexOf(`condition:${R3}`)]).toBe(b1);
  }, 60_000);
});
