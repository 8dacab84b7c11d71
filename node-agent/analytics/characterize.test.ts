import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { omopDbWith } from '../cohort/test-omop.js';
import type { TestDb } from '../cohort/test-omop.js';
import { ageBandLabelsFor } from '../../common/job/index.js';
import { ageBandLabels, characterizeCohort, compileCharacterizeOptions } from './index.js';
import { createCohortTable } from './test-data.js';

/*
 * Hand-made fixture. Index = first entry. Default window [-365, 0] days.
 *   p1 male   1950, entries 2020-03-01 and 2021-01-01 → age 70; 101 (desc. of 100) on 2019-06-01 (in window);
 *                200 on 2020-03-02 (day +1, out) and 2020-12-31 (in the window of the 2nd entry only: out)
 *   p2 female 2005, entry 2020-06-15 → age 15; 200 on day 0 (in); 100 on 2019-06-15 (day −366, out);
 *                300 on 2019-06-16 (day −365, in)
 *   p3 gender 8551, no year of birth, entry 2019-01-01; drug 500 on 2018-12-31 (in)
 *   p4 female 1980, entry 2020-01-10 → age 40; 100 on 2019-12-01 and 101 on 2019-12-05 (one person for 100);
 *                100 on 2021-01-01 (out); drug 500 on the index day (in)
 *   p5 male   1990, not in the cohort; 100 and 500 on 2020-01-01 (not counted)
 *   p6 not in `person`, entry 2020-05-05
 */
const fixture = {
  person: [
    [1, 8507, 1950, 0, 0],
    [2, 8532, 2005, 0, 0],
    [3, 8551, null, 0, 0],
    [4, 8532, 1980, 0, 0],
    [5, 8507, 1990, 0, 0],
  ],
  condition_occurrence: [
    [1, 1, 101, '2019-06-01', null, null, 0],
    [2, 1, 200, '2020-03-02', null, null, 0],
    [3, 1, 200, '2020-12-31', null, null, 0],
    [4, 2, 200, '2020-06-15', null, null, 0],
    [5, 2, 100, '2019-06-15', null, null, 0],
    [6, 2, 300, '2019-06-16', null, null, 0],
    [7, 4, 100, '2019-12-01', null, null, 0],
    [8, 4, 101, '2019-12-05', null, null, 0],
    [9, 4, 100, '2021-01-01', null, null, 0],
    [10, 5, 100, '2020-01-01', null, null, 0],
  ],
  drug_exposure: [
    [20, 3, 500, '2018-12-31', null, null, null, 0],
    [21, 4, 500, '2020-01-10', null, null, null, 0],
    [22, 5, 500, '2020-01-01', null, null, null, 0],
  ],
  concept_ancestor: [
    [100, 100],
    [100, 101],
  ],
} as const;

const cohortRows = [
  [1, '2020-03-01', '2020-03-10'],
  [1, '2021-01-01', '2021-01-10'],
  [2, '2020-06-15', '2020-06-20'],
  [3, '2019-01-01', '2019-01-02'],
  [4, '2020-01-10', '2020-02-10'],
  [6, '2020-05-05', '2020-05-06'],
] as const;

const concepts = { conditionConcepts: [100, 200, 300], drugConcepts: [500, 600] };

describe('characterizeCohort on a hand-made fixture', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith(fixture);
    await createCohortTable(db.conn, 'cohort_a', cohortRows);
  });
  afterAll(() => db?.close());

  it('counts persons, entries, gender, age bands and concepts as computed by hand', async () => {
    const r = await characterizeCohort(db.conn, 'cohort_a', concepts);
    expect(r).toEqual({
      persons: 5n,
      entries: 6n,
      byGender: [
        { gender_concept_id: 8507, persons: 1n },
        { gender_concept_id: 8532, persons: 2n },
        { gender_concept_id: 0, persons: 2n },
      ],
      byAgeBand: [
        { band: '0-17', persons: 1n },
        { band: '18-29', persons: 0n },
        { band: '30-39', persons: 0n },
        { band: '40-49', persons: 1n },
        { band: '50-59', persons: 0n },
        { band: '60-69', persons: 0n },
        { band: '70-79', persons: 1n },
        { band: '80+', persons: 0n },
        { band: 'unknown', persons: 2n },
      ],
      conditions: [
        { concept_id: 100, persons: 2n },
        { concept_id: 200, persons: 1n },
        { concept_id: 300, persons: 1n },
      ],
      drugs: [
        { concept_id: 500, persons: 2n },
        { concept_id: 600, persons: 0n },
      ],
    });
  });

  it('applies custom age bands and windows', async () => {
    const r = await characterizeCohort(db.conn, 'cohort_a', { ...concepts, ageBands: [0, 50, 120], windowDays: [0, 400] });
    expect(r.byAgeBand).toEqual([
      { band: '0-49', persons: 2n },
      { band: '50-119', persons: 1n },
      { band: 'unknown', persons: 2n },
    ]);
    // p4: 100 at day +357; p1: 200 at day +1; p2: 200 at day 0; p4's drug on day 0.
    expect(r.conditions.map((c) => c.persons)).toEqual([1n, 2n, 0n]);
    expect(r.drugs.map((c) => c.persons)).toEqual([1n, 0n]);
  });

  it('keeps the caller order of concepts and reports 0 for concepts no one has', async () => {
    const r = await characterizeCohort(db.conn, 'cohort_a', { conditionConcepts: [999, 300, 100] });
    expect(r.conditions).toEqual([
      { concept_id: 999, persons: 0n },
      { concept_id: 300, persons: 1n },
      { concept_id: 100, persons: 2n },
    ]);
    expect(r.drugs).toEqual([]);
  });

  it('matches descendants only through concept_ancestor', async () => {
    const other = await omopDbWith({ ...fixture, concept_ancestor: [] });
    try {
      await createCohortTable(other.conn, 'cohort_a', cohortRows);
      await other.conn.run('DROP TABLE concept_ancestor');
      const r = await characterizeCohort(other.conn, 'cohort_a', concepts);
      // Without the vocabulary, p1's 101 no longer counts for 100; p4 has 100 itself.
      expect(r.conditions[0]).toEqual({ concept_id: 100, persons: 1n });
    } finally {
      other.close();
    }
  });

  it('rejects bad options with messages naming the option', async () => {
    const bad: [object, string][] = [
      [{ ageBands: [0, 10, 10] }, 'opts.ageBands[2]'],
      [{ ageBands: [5] }, 'opts.ageBands'],
      [{ ageBands: [0, 1.5] }, 'opts.ageBands[1]'],
      [{ windowDays: [5, 1] }, 'opts.windowDays'],
      [{ windowDays: [0] }, 'opts.windowDays'],
      [{ conditionConcepts: [1, 1] }, 'opts.conditionConcepts[1]'],
      [{ drugConcepts: ['1'] }, 'opts.drugConcepts[0]'],
    ];
    for (const [opts, field] of bad) {
      expect(() => compileCharacterizeOptions(opts), field).toThrow(field);
    }
    await expect(characterizeCohort(db.conn, 'no_such_cohort')).rejects.toThrow(/^cohortTable: /);
    await expect(characterizeCohort(db.conn, 'person')).rejects.toThrow(/cohortTable: .*not a cohort table/);
  });

  it('fails with FAILED_PRECONDITION when person is missing', async () => {
    const other = await omopDbWith({});
    try {
      await createCohortTable(other.conn, 'c', cohortRows);
      await other.conn.run('DROP TABLE person');
      const err = await characterizeCohort(other.conn, 'c').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FedmeshError);
      expect((err as FedmeshError).code).toBe('FAILED_PRECONDITION');
    } finally {
      other.close();
    }
  });

  it('labels bands by whole years', () => {
    expect(ageBandLabels([0, 18, 65, 120])).toEqual(['0-17', '18-64', '65-119', 'unknown']);
  });

  it('labels an open top band "80+", not "80-199" (the default edges end at 200)', () => {
    expect(ageBandLabels([0, 18, 80, 200])).toEqual(['0-17', '18-79', '80+', 'unknown']);
    expect(ageBandLabelsFor([0, 18, 80, 200])).toEqual(ageBandLabels([0, 18, 80, 200]));
    expect(ageBandLabels([0, 18, 80, 200])).not.toContain('80-199');
  });
});
