/**
 * Tests of the independent Circe reference SQL (test/reference/circe/*.sql).
 *
 * 1. Hand-made fixture: a tiny CDM whose correct cohorts were worked out by hand from the Circe rules;
 *    runs everywhere (no shared data needed).
 * 2. Eunomia GiBleed (../shared/data): invariants of every reference cohort, and the counts published
 *    by other OHDSI tools for the same definitions on the same data. Skips visibly without the data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  REFERENCE_COHORTS,
  countReferenceCohort,
  gibleedAvailable,
  gibleedDir,
  loadGiBleed,
  readReferenceSql,
  referenceCohortCounts,
  runReferenceCohort,
} from './circe-reference.js';
import type { CohortRow } from './circe-reference.js';

async function scalar(conn: DuckDBConnection, sql: string): Promise<number> {
  const reader = await conn.runAndReadAll(sql);
  const row = reader.getRowObjectsJS()[0];
  return Number(row ? Object.values(row)[0] : NaN);
}

function rows(...r: Array<[number, string, string]>): CohortRow[] {
  return r.map(([subject_id, cohort_start_date, cohort_end_date]) => ({ subject_id, cohort_start_date, cohort_end_date }));
}

// ---------------------------------------------------------------------------------------------
// 1. Hand-made fixture with answers derived by hand
// ---------------------------------------------------------------------------------------------
const FIXTURE_DDL = `
CREATE TABLE person (person_id BIGINT, gender_concept_id BIGINT, year_of_birth INTEGER, month_of_birth INTEGER,
  day_of_birth INTEGER, race_concept_id BIGINT, ethnicity_concept_id BIGINT);
CREATE TABLE observation_period (observation_period_id BIGINT, person_id BIGINT,
  observation_period_start_date DATE, observation_period_end_date DATE);
CREATE TABLE condition_occurrence (condition_occurrence_id BIGINT, person_id BIGINT, condition_concept_id BIGINT,
  condition_start_date DATE, condition_end_date DATE, condition_type_concept_id BIGINT, visit_occurrence_id BIGINT);
CREATE TABLE drug_era (drug_era_id BIGINT, person_id BIGINT, drug_concept_id BIGINT, drug_era_start_date DATE,
  drug_era_end_date DATE, drug_exposure_count INTEGER, gap_days INTEGER);
CREATE TABLE concept (concept_id BIGINT, concept_name VARCHAR, domain_id VARCHAR, vocabulary_id VARCHAR,
  standard_concept VARCHAR, invalid_reason VARCHAR);
CREATE TABLE concept_ancestor (ancestor_concept_id BIGINT, descendant_concept_id BIGINT);

INSERT INTO concept VALUES
  (192671, 'Gastrointestinal hemorrhage', 'Condition', 'SNOMED', 'S', NULL),
  (999001, 'valid child of GI hemorrhage (fixture)', 'Condition', 'SNOMED', 'S', NULL),
  (999002, 'invalid child of GI hemorrhage (fixture)', 'Condition', 'SNOMED', NULL, 'D'),
  (1118084, 'celecoxib', 'Drug', 'RxNorm', 'S', NULL);
INSERT INTO concept_ancestor VALUES (192671, 192671), (192671, 999001), (192671, 999002), (999001, 999001),
  (999002, 999002), (1118084, 1118084);

-- persons: 1 male 1950, 2 female 1960, 3 male 1970, 4 male 1959, 5 male 1955, 6 male 1960, 7 female 1959
INSERT INTO person VALUES (1, 8507, 1950, 1, 1, 0, 0), (2, 8532, 1960, 1, 1, 0, 0), (3, 8507, 1970, 1, 1, 0, 0),
  (4, 8507, 1959, 1, 1, 0, 0), (5, 8507, 1955, 1, 1, 0, 0), (6, 8507, 1960, 6, 1, 0, 0), (7, 8532, 1959, 12, 31, 0, 0);
INSERT INTO observation_period VALUES
  (11, 1, DATE '2000-01-01', DATE '2000-12-31'), (12, 1, DATE '2005-01-01', DATE '2010-12-31'),
  (21, 2, DATE '2010-01-01', DATE '2010-01-05'),
  (31, 3, DATE '2001-01-01', DATE '2020-12-31'),
  (41, 4, DATE '1990-01-01', DATE '1999-12-31'),
  (51, 5, DATE '1990-01-01', DATE '2005-12-31'),
  (61, 6, DATE '1995-01-01', DATE '2010-12-31'),
  (71, 7, DATE '1999-01-01', DATE '2001-12-31');

-- GI bleeds: p1 one in op 11, one between periods (no observation -> not an event), two in op 12;
-- p2 one near the end of a 5-day period; p3 only the descendant concepts (999002 is invalid).
INSERT INTO condition_occurrence VALUES
  (101, 1, 192671, DATE '2000-06-01', DATE '2000-06-02', 32020, NULL),
  (102, 1, 192671, DATE '2003-01-01', NULL, 32020, NULL),
  (103, 1, 192671, DATE '2005-03-01', NULL, 32020, NULL),
  (104, 1, 192671, DATE '2005-03-05', DATE '2005-03-06', 32020, NULL),
  (201, 2, 192671, DATE '2010-01-01', NULL, 32020, NULL),
  (301, 3, 999001, DATE '2002-02-02', NULL, 32020, NULL),
  (302, 3, 999002, DATE '2001-06-01', NULL, 32020, NULL);

-- celecoxib eras
INSERT INTO drug_era VALUES
  (1001, 1, 1118084, DATE '1998-05-01', DATE '1998-06-01', 1, 0),  -- before p1's first observation period
  (1002, 1, 1118084, DATE '2000-02-01', DATE '2000-03-01', 1, 0),  -- p1 first in-window era, age 50
  (2001, 2, 1118084, DATE '2010-01-02', DATE '2010-01-03', 1, 0),  -- p2 age 50, female
  (4001, 4, 1118084, DATE '1995-01-01', DATE '1995-02-01', 1, 0),  -- p4 age 36, op ends 1999-12-31
  (5001, 5, 1118084, DATE '1996-03-01', DATE '1996-04-01', 1, 0),  -- p5 age 41, before the censor window
  (5002, 5, 1118084, DATE '2001-01-01', DATE '2001-02-01', 1, 0),
  (6001, 6, 1118084, DATE '2000-12-31', DATE '2001-01-30', 1, 0),  -- p6 age 2000-1960 = 40, not > 40
  (6002, 6, 1118084, DATE '2001-06-01', DATE '2001-07-01', 1, 0),  -- later era (age 41) must not rescue p6
  (7001, 7, 1118084, DATE '2000-01-01', DATE '2000-02-01', 1, 0);  -- p7 born 1959-12-31: Circe age 41
`;

const FIXTURE_EXPECTED: Record<string, CohortRow[]> = {
  // First in-window event per person, exit at the end of that observation period.
  GiBleed_default: rows([1, '2000-06-01', '2000-12-31'], [2, '2010-01-01', '2010-01-05']),
  // + the valid descendant 999001 (p3); the invalid descendant 999002 (2001-06-01) is not in the concept set.
  GiBleed_default_with_descendants: rows(
    [1, '2000-06-01', '2000-12-31'],
    [2, '2010-01-01', '2010-01-05'],
    [3, '2002-02-02', '2020-12-31'],
  ),
  // All events; QualifiedLimit First has no effect without qualifying criteria; the two bleeds in op 12
  // both end on 2010-12-31 and collapse into one era; the bleed outside observation is dropped.
  GiBleed_all: rows([1, '2000-06-01', '2000-12-31'], [1, '2005-03-01', '2010-12-31'], [2, '2010-01-01', '2010-01-05']),
  // start + 10 days, capped at the op end (p2); 2005-03-01..11 and 2005-03-05..15 overlap -> one era.
  gibleed_all_end_10: rows(
    [1, '2000-06-01', '2000-06-11'],
    [1, '2005-03-01', '2005-03-15'],
    [2, '2010-01-01', '2010-01-05'],
  ),
  gibleed_end_10: rows([1, '2000-06-01', '2000-06-11'], [1, '2005-03-01', '2005-03-15'], [2, '2010-01-01', '2010-01-05']),
  // First era that lies in an observation period (p1: the 1998 era is not an event), exit at op end.
  celecoxib: rows(
    [1, '2000-02-01', '2000-12-31'],
    [2, '2010-01-02', '2010-01-05'],
    [4, '1995-01-01', '1999-12-31'],
    [5, '1996-03-01', '2005-12-31'],
    [6, '2000-12-31', '2010-12-31'],
    [7, '2000-01-01', '2001-12-31'],
  ),
  // Age = year(index) - year_of_birth > 40: p1 50, p2 50, p5 41, p7 41 (calendar years); p4 36, p6 40 out.
  celecoxibAge40: rows(
    [1, '2000-02-01', '2000-12-31'],
    [2, '2010-01-02', '2010-01-05'],
    [5, '1996-03-01', '2005-12-31'],
    [7, '2000-01-01', '2001-12-31'],
  ),
  celecoxibAge40Male: rows([1, '2000-02-01', '2000-12-31'], [5, '1996-03-01', '2005-12-31']),
  // Censor window from 2000-01-01: p4 (ends 1999-12-31) dropped, p5 clipped to start 2000-01-01.
  celecoxibCensored: rows(
    [1, '2000-02-01', '2000-12-31'],
    [2, '2010-01-02', '2010-01-05'],
    [5, '2000-01-01', '2005-12-31'],
    [6, '2000-12-31', '2010-12-31'],
    [7, '2000-01-01', '2001-12-31'],
  ),
};

describe('Circe reference SQL on a hand-made fixture', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    conn = await instance.connect();
    await conn.run(FIXTURE_DDL);
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
  });

  it('has a hand-derived answer for every reference definition', () => {
    expect(Object.keys(FIXTURE_EXPECTED).sort()).toEqual([...REFERENCE_COHORTS].sort());
  });

  for (const stem of REFERENCE_COHORTS) {
    it(`${stem} gives the hand-derived cohort`, async () => {
      expect(await runReferenceCohort(conn, stem)).toEqual(FIXTURE_EXPECTED[stem]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 2. Eunomia GiBleed
// ---------------------------------------------------------------------------------------------
const available = gibleedAvailable();
if (!available) {
  console.warn(
    `[circe-reference] SKIPPED GiBleed reference checks: ${gibleedDir} not found ` +
      '(the shared public data folder ../shared/data is absent).',
  );
}

/**
 * Counts published by other OHDSI tools running these same Circe definitions (through CirceR /
 * SqlRender) on Eunomia GiBleed:
 *  - GiBleed / gibleed_* : darwin-eu/CDMConnector vignette "Working with cohorts"
 *    (vignettes/a02_working_with_cohorts): cohortCount() of the "cohorts3" set (gibleed_all_end_10,
 *    gibleed_all, gibleed_default_with_descendants, gibleed_default, gibleed_end_10) shows
 *    number_records = number_subjects = 479 for all five, and cohortCount() of the example
 *    GiBleed_default gives 479 / 479.
 *  - celecoxib* : FINNGEN/HadesExtras vignette "Using CohortTableHandler"
 *    (articles/using_CohortTableHandler.md), cohorts from OHDSI/CohortGenerator
 *    inst/testdata/name/cohorts on Eunomia GiBleed: cohortEntries = cohortSubjects =
 *    1800 (celecoxib), 569 (celecoxibAge40), 266 (celecoxibAge40Male), 1750 (celecoxibCensored).
 */
const PUBLISHED: Record<string, { persons: number; entries: number }> = {
  GiBleed_all: { persons: 479, entries: 479 },
  GiBleed_default: { persons: 479, entries: 479 },
  GiBleed_default_with_descendants: { persons: 479, entries: 479 },
  gibleed_all_end_10: { persons: 479, entries: 479 },
  gibleed_end_10: { persons: 479, entries: 479 },
  celecoxib: { persons: 1800, entries: 1800 },
  celecoxibAge40: { persons: 569, entries: 569 },
  celecoxibAge40Male: { persons: 266, entries: 266 },
  celecoxibCensored: { persons: 1750, entries: 1750 },
};

const DATE_OFFSET_10 = new Set(['gibleed_all_end_10', 'gibleed_end_10']);

function table(stem: string): string {
  return `ref_${stem.toLowerCase()}`;
}

describe.skipIf(!available)('Circe reference SQL on Eunomia GiBleed (../shared/data)', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  const counts: Record<string, { persons: number; entries: number }> = {};

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    conn = await instance.connect();
    await loadGiBleed(conn);
    for (const stem of REFERENCE_COHORTS) {
      await conn.run(`CREATE TABLE ${table(stem)} AS ${readReferenceSql(stem)}`);
      counts[stem] = await countReferenceCohort(conn, stem);
    }
    console.log('[circe-reference] GiBleed reference counts (persons / entries):');
    console.table(counts);
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
  });

  it('loaded the GiBleed tables completely', async () => {
    expect(await scalar(conn, 'SELECT count(*) FROM person')).toBe(2694);
    expect(await scalar(conn, 'SELECT count(*) FROM observation_period')).toBe(5343);
    expect(await scalar(conn, 'SELECT count(*) FROM condition_occurrence')).toBe(65332);
    expect(await scalar(conn, 'SELECT count(*) FROM drug_era')).toBe(52508);
    expect(await scalar(conn, 'SELECT count(*) FROM concept_ancestor')).toBe(65690);
  });

  for (const stem of REFERENCE_COHORTS) {
    describe(stem, () => {
      it('is non-empty, has start <= end and at most 2694 persons', async () => {
        const t = table(stem);
        expect(counts[stem]?.entries).toBeGreaterThan(0);
        expect(counts[stem]?.persons).toBeLessThanOrEqual(2694);
        expect(await scalar(conn, `SELECT count(*) FROM ${t} WHERE NOT (cohort_start_date <= cohort_end_date)`)).toBe(0);
        expect(await scalar(conn, `SELECT count(*) FROM ${t} WHERE subject_id NOT IN (SELECT person_id FROM person)`)).toBe(0);
      });

      it('keeps every entry inside one observation period of the person', async () => {
        const outside = await scalar(
          conn,
          `SELECT count(*) FROM ${table(stem)} c WHERE NOT EXISTS (
             SELECT 1 FROM observation_period op
             WHERE op.person_id = c.subject_id
               AND op.observation_period_start_date <= c.cohort_start_date
               AND c.cohort_end_date <= op.observation_period_end_date)`,
        );
        expect(outside).toBe(0);
      });

      it('has no overlapping or touching entries for a person (era collapse, pad 0)', async () => {
        const overlapping = await scalar(
          conn,
          `SELECT count(*) FROM (
             SELECT cohort_start_date,
                    lag(cohort_end_date) OVER (PARTITION BY subject_id ORDER BY cohort_start_date) AS prev_end
             FROM ${table(stem)}) WHERE prev_end IS NOT NULL AND cohort_start_date <= prev_end`,
        );
        expect(overlapping).toBe(0);
      });

      if (DATE_OFFSET_10.has(stem)) {
        it('DateOffset: each entry ends at start + 10 days or at the observation period end', async () => {
          const bad = await scalar(
            conn,
            `SELECT count(*) FROM ${table(stem)} c JOIN observation_period op
               ON op.person_id = c.subject_id
              AND c.cohort_start_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
             WHERE c.cohort_end_date <> least(c.cohort_start_date + 10, op.observation_period_end_date)`,
          );
          expect(bad).toBe(0);
        });
      }

      it('matches the published count for this definition on GiBleed', () => {
        expect(counts[stem]).toEqual(PUBLISHED[stem]);
      });
    });
  }

  it('default-end cohorts (no EndStrategy) end at the observation period end', async () => {
    for (const stem of ['GiBleed_all', 'GiBleed_default', 'celecoxib', 'celecoxibAge40', 'celecoxibAge40Male']) {
      const bad = await scalar(
        conn,
        `SELECT count(*) FROM ${table(stem)} c WHERE NOT EXISTS (
           SELECT 1 FROM observation_period op WHERE op.person_id = c.subject_id
             AND c.cohort_start_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
             AND c.cohort_end_date = op.observation_period_end_date)`,
      );
      expect(bad, stem).toBe(0);
    }
  });

  it('reproduces the published days-in-cohort distribution of gibleed_all_end_10 / gibleed_end_10', async () => {
    // CDMConnector vignette "Working with cohorts": for cohorts 1 (gibleed_all_end_10) and 5
    // (gibleed_end_10), days_in_cohort = 10 for 467 entries, 1 for 10, 2 for 1, 9 for 1.
    for (const stem of ['gibleed_all_end_10', 'gibleed_end_10']) {
      const reader = await conn.runAndReadAll(
        `SELECT CAST(cohort_end_date - cohort_start_date AS INTEGER) AS days, count(*)::INTEGER AS n
         FROM ${table(stem)} GROUP BY 1 ORDER BY 1`,
      );
      expect(reader.getRowObjectsJS(), stem).toEqual([
        { days: 1, n: 10 },
        { days: 2, n: 1 },
        { days: 9, n: 1 },
        { days: 10, n: 467 },
      ]);
    }
  });

  it('reproduces the published person overlap of the four celecoxib cohorts', async () => {
    // HadesExtras vignette "Using CohortTableHandler", getCohortsOverlap() with cohort ids
    // 1 celecoxib, 2 celecoxibAge40, 3 celecoxibAge40Male, 4 celecoxibCensored:
    // -1- 35, -1-2- 7, -1-2-3- 8, -1-2-3-4- 258, -1-2-4- 296, -1-4- 1196.
    const reader = await conn.runAndReadAll(`
      WITH m AS (
        SELECT subject_id, 1 AS id FROM ${table('celecoxib')}
        UNION SELECT subject_id, 2 FROM ${table('celecoxibAge40')}
        UNION SELECT subject_id, 3 FROM ${table('celecoxibAge40Male')}
        UNION SELECT subject_id, 4 FROM ${table('celecoxibCensored')}),
      combos AS (SELECT subject_id, '-' || string_agg(CAST(id AS VARCHAR), '-' ORDER BY id) || '-' AS combo
                 FROM m GROUP BY subject_id)
      SELECT combo, count(*)::INTEGER AS n FROM combos GROUP BY combo ORDER BY combo`);
    expect(reader.getRowObjectsJS()).toEqual([
      { combo: '-1-', n: 35 },
      { combo: '-1-2-', n: 7 },
      { combo: '-1-2-3-', n: 8 },
      { combo: '-1-2-3-4-', n: 258 },
      { combo: '-1-2-4-', n: 296 },
      { combo: '-1-4-', n: 1196 },
    ]);
  });

  it('gives identical cohorts for definitions that are equivalent on GiBleed', async () => {
    const same = async (a: string, b: string) =>
      scalar(
        conn,
        `SELECT count(*) FROM ((SELECT * FROM ${table(a)} EXCEPT ALL SELECT * FROM ${table(b)})
           UNION ALL (SELECT * FROM ${table(b)} EXCEPT ALL SELECT * FROM ${table(a)}))`,
      );
    // identical JSON
    expect(await same('gibleed_all_end_10', 'gibleed_end_10')).toBe(0);
    // 192671 has no descendant other than itself in the Eunomia vocabulary subset
    expect(await scalar(conn, 'SELECT count(*) FROM concept_ancestor WHERE ancestor_concept_id = 192671 AND descendant_concept_id <> 192671')).toBe(0);
    expect(await same('GiBleed_default', 'GiBleed_default_with_descendants')).toBe(0);
    // every person has exactly one GI-bleed record, so All and First coincide
    expect(await same('GiBleed_all', 'GiBleed_default')).toBe(0);
  });

  it('referenceCohortCounts() returns the same counts from a fresh database', async () => {
    expect(await referenceCohortCounts()).toEqual(counts);
  });
});
