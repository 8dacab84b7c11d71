/**
 * The design read within a cohort: only rows of persons in the cohort (native spec, run by the agent's cohort
 * compiler on OMOP tables) enter the design; the cohort's scratch table is dropped afterwards. Negative control:
 * without the cohort every person's rows are read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { omopDbWith, type TestDb } from '../../node-agent/cohort/test-omop.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { readGlmDesign } from './design.js';
import { parseGlmSpec } from './spec.js';

const PERSONS = 40;
const inCohort = (id: number): boolean => id % 2 === 0;

describe('readGlmDesign with a cohort', () => {
  let db: TestDb;
  const product: ProductInfo = {
    name: 'model_rows',
    columns: [
      { name: 'person_id', type: 'BIGINT' },
      { name: 'y', type: 'DOUBLE' },
      { name: 'age', type: 'DOUBLE' },
    ],
    privacyUnit: 'person_id',
    description: '',
    source: 'test',
  };

  beforeAll(async () => {
    const ids = Array.from({ length: PERSONS }, (_, i) => i + 1);
    db = await omopDbWith({
      concept: [[100, 'condition', null]],
      concept_ancestor: [[100, 100]],
      person: ids.map((p) => [p, p % 3 === 0 ? 8532 : 8507, 1950 + p, 0, 0]),
      observation_period: ids.map((p) => [p, p, '2020-01-01', '2020-12-31']),
      condition_occurrence: ids.filter(inCohort).map((p) => [p, p, 100, '2020-06-01', null, null, 0]),
    });
    await db.conn.run('CREATE TABLE model_rows AS SELECT person_id, (person_id % 7)::DOUBLE AS y, (2020 - year_of_birth)::DOUBLE AS age FROM person');
  });
  afterAll(() => db.close());

  const spec = (cohort?: unknown) =>
    parseGlmSpec({
      kind: 'glm',
      product: 'model_rows',
      family: 'gaussian',
      outcome: 'y',
      covariates: [{ column: 'age', type: 'numeric', bounds: [0, 120] }],
      ...(cohort ? { cohort } : {}),
      privacy: { mode: 'none' },
    });

  it('keeps only the rows of cohort members and cleans up its scratch tables', async () => {
    const cohort = { entry: { domain: 'condition', concepts: { include: [{ conceptId: 100 }] } } };
    const { design } = await readGlmDesign(db.conn, spec(cohort), product, { salt: 's', minCellSize: 1, scratch: 'c1' });
    const ages = Array.from({ length: design.n }, (_, i) => design.x[i * 2 + 1]!).sort((a, b) => a - b);
    const expected = Array.from({ length: PERSONS }, (_, i) => i + 1)
      .filter(inCohort)
      .map((p) => 2020 - (1950 + p))
      .sort((a, b) => a - b);
    expect(ages).toEqual(expected);
    const left = (await db.conn.runAndReadAll("SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name LIKE 'c1_%'")).getRowObjectsJS()[0]!.n;
    expect(left).toBe(0);
    // Negative control: without the cohort, all persons are read.
    const all = await readGlmDesign(db.conn, spec(), product, { salt: 's', minCellSize: 1, scratch: 'c2' });
    expect(all.design.n).toBe(PERSONS);
  });
});
