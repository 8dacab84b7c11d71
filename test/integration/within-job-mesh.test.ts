/**
 * Red team 9 F3 / red team 10 F1, end to end: a characterisation in mode none that lists a concept with its
 * descendant, through a real agent's task runner (gRPC/mTLS) and the coordinator's release. The site's vocabulary
 * gives an ancestor A of hypertension H and of a rare concept R that three persons of the cohort without H hold, so
 * A − H is a cell of 3 persons. The job succeeds, releases A, and withholds H at the agent (named in `suppressed`);
 * control: the exact cells of the same site differ by 3 (what releasing both would have disclosed).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { computeCells } from '../../node-agent/jobs/cell-jobs.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const A = 9_000_001;
const H = 320128;
const R = 9_000_002;
const definition = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };
const spec = { kind: 'characterize', definition, ageBands: [0, 200], conditionConcepts: [A, H], drugConcepts: [], windowDays: [-365, 0], privacy: { mode: 'none' }, agents: ['w1'] };

describe('characterize in mode none over a real agent: a concept with its descendant', () => {
  let mesh: TestMesh;
  let exact: Map<string, bigint>;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['w1'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 1, persons: 1000, seed: 11, format: 'parquet' });
    const site = join(mesh.dir, 'site');
    mkdirSync(site);
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const tables = readdirSync(synth.sites[0]!.dir).filter((x) => x.endsWith('.parquet')).map((f) => f.replace(/\.parquet$/, ''));
    for (const t of tables) await conn.run(`CREATE TABLE "${t}" AS SELECT * FROM read_parquet('${join(synth.sites[0]!.dir, `${t}.parquet`)}')`);
    await conn.run(`INSERT INTO concept_ancestor BY NAME SELECT * FROM (VALUES (${A}, ${A}, 0, 0), (${A}, ${H}, 1, 1), (${A}, ${R}, 1, 1), (${R}, ${R}, 0, 0)) v(ancestor_concept_id, descendant_concept_id, min_levels_of_separation, max_levels_of_separation)`);
    await conn.run(`CREATE TEMP TABLE idx AS SELECT person_id, min(condition_start_date) AS d FROM condition_occurrence WHERE condition_concept_id = 201826 GROUP BY person_id`);
    await conn.run(`INSERT INTO condition_occurrence BY NAME
      SELECT 900000000 + row_number() OVER () AS condition_occurrence_id, person_id, ${R} AS condition_concept_id, 32817 AS condition_type_concept_id, d AS condition_start_date, d AS condition_end_date
        FROM (SELECT i.person_id, i.d FROM idx i JOIN observation_period o ON o.person_id = i.person_id AND i.d BETWEEN o.observation_period_start_date AND o.observation_period_end_date
               WHERE NOT EXISTS (SELECT 1 FROM condition_occurrence c WHERE c.person_id = i.person_id AND c.condition_concept_id = ${H} AND c.condition_start_date BETWEEN i.d - INTERVAL 365 DAY AND i.d)
               ORDER BY i.person_id LIMIT 3)`);
    exact = await computeCells(conn, spec as never, 'exact');
    for (const t of tables) await conn.run(`COPY "${t}" TO '${join(site, `${t}.parquet`)}' (FORMAT parquet)`);
    conn.closeSync();
    db.closeSync();
    await mesh.startAgent('w1', site, { minCellSize: 5, allowModes: ['none', 'central-dp'], allowKinds: ['characterize', 'cohort'] });
    await mesh.waitForAgents(1, 60_000);
  }, 180_000);
  afterAll(async () => mesh?.close());

  it('releases the ancestor and withholds the descendant; the job succeeds (control: the exact cells differ by 3)', async () => {
    const a = Number(exact.get(`condition:${A}`));
    const h = Number(exact.get(`condition:${H}`));
    expect(h).toBeGreaterThanOrEqual(5);
    expect(a - h).toBe(3);
    const out = await mesh.client.run(spec);
    expect(out.error, JSON.stringify(out.error)).toBeUndefined();
    const result = out.result!;
    const conditions = (result.summary as { conditions: { concept_id: number; persons: number | null }[] }).conditions;
    expect(conditions).toEqual([expect.objectContaining({ concept_id: A, persons: a }), expect.objectContaining({ concept_id: H, persons: null })]);
    expect(result.suppressed).toEqual([{ group: { cell: `condition:${H}` }, suppressedBy: ['w1'] }]);
    expect(result.notes.join(' ')).toMatch(/a condition or drug cell whose persons differ from another cell of this job/);
    // The cohort and its breakdowns are released as usual.
    expect((result.summary as { count: number }).count).toBe(Number(exact.get('persons')));
  }, 120_000);
});
