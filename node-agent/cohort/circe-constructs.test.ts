/**
 * One Circe construct per test, on hand-made OMOP fixtures with hand-computed answers: concept sets
 * (descendants, exclusions, mapped), observation window, limits, domains and their default end dates, inclusion
 * rules with windows, occurrence types, groups and attrition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCirce, runCohort } from './index.js';
import { circe, conceptSet, correlated, rule, runAndRead, subjects, window } from './test-circe.js';
import { omopDbWith } from './test-omop.js';
import type { Fixture, TestDb } from './test-omop.js';

const OP_2020 = (id: number, person: number) => [id, person, '2020-01-01', '2020-12-31'] as const;
const MALE = 8507;
const FEMALE = 8532;

const vocabulary: Fixture = {
  concept: [
    [100, 'parent', null],
    [101, 'child', null],
    [102, 'grandchild', null],
    [103, 'invalid child', 'D'],
    [200, 'other', null],
    [300, 'source code', null],
    [500, 'drug', null],
    [700, 'procedure', null],
    [800, 'measurement', null],
  ],
  concept_ancestor: [
    [100, 100],
    [100, 101],
    [100, 102],
    [100, 103],
    [101, 101],
    [101, 102],
    [102, 102],
    [103, 103],
  ],
  concept_relationship: [
    [300, 100, 'Maps to', null],
    [100, 300, 'Mapped from', null],
  ],
};

const conditionOn = (codeset: number, extra: Record<string, unknown> = {}) => ({
  ConditionOccurrence: { CodesetId: codeset, ...extra },
});
const endAtStartPlus = (days: number) => ({ EndStrategy: { DateOffset: { DateField: 'StartDate', Offset: days } } });

describe('concept sets', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      ...vocabulary,
      person: [1, 2, 3, 4, 5, 6].map((p) => [p, MALE, 1970, 0, 0]),
      observation_period: [1, 2, 3, 4, 5, 6].map((p) => OP_2020(p, p)),
      condition_occurrence: [
        [1, 1, 100, '2020-03-01', null, null, 0],
        [2, 2, 101, '2020-03-01', null, null, 0],
        [3, 3, 102, '2020-03-01', null, null, 0],
        [4, 4, 103, '2020-03-01', null, null, 0],
        [5, 5, 200, '2020-03-01', null, null, 0],
        [6, 6, 300, '2020-03-01', null, null, 0],
      ],
    });
  });
  afterAll(() => db.close());

  const cases: [string, object, number[]][] = [
    ['a concept alone', conceptSet(0, [100]), [1]],
    ['with valid descendants (not the invalid 103)', conceptSet(0, [[100, { descendants: true }]]), [1, 2, 3]],
    [
      'excluding a branch with its descendants',
      conceptSet(0, [[100, { descendants: true }], [101, { descendants: true, excluded: true }]]),
      [1],
    ],
    [
      'excluding one concept only',
      conceptSet(0, [[100, { descendants: true }], [102, { excluded: true }]]),
      [1, 2],
    ],
    ['with mapped source concepts (Maps to)', conceptSet(0, [[100, { mapped: true }]]), [1, 6]],
    ['only exclusions selects nothing', conceptSet(0, [[100, { excluded: true }]]), []],
  ];
  for (const [name, cs, expected] of cases) {
    it(name, async () => {
      const { rows } = await runAndRead(db.conn, circe([cs], [conditionOn(0)]));
      expect(subjects(rows)).toEqual(expected);
    });
  }

  it('writes subject_id BIGINT, cohort_start_date DATE, cohort_end_date DATE', async () => {
    const { result } = await runAndRead(db.conn, circe([conceptSet(0, [100])], [conditionOn(0)]));
    const cols = (await db.conn.runAndReadAll(`DESCRIBE "${result.table}"`)).getRowObjectsJS();
    expect(cols.map((c) => [c['column_name'], c['column_type']])).toEqual([
      ['subject_id', 'BIGINT'],
      ['cohort_start_date', 'DATE'],
      ['cohort_end_date', 'DATE'],
    ]);
    // The working tables are gone; the cohort itself is a temporary table too (it holds person rows: it must not
    // outlive the task's connection, even when the task is interrupted before it could drop it).
    const temps = await db.conn.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE temporary");
    expect(temps.getRowObjectsJS()).toEqual([{ table_name: result.table }]);
  });

  it('names the OMOP tables a definition needs but the database lacks', async () => {
    const bare = await omopDbWith({});
    try {
      await bare.conn.run('DROP TABLE concept_relationship');
      await bare.conn.run('DROP TABLE concept_ancestor');
      await expect(runCohort(bare.conn, parseCirce(circe([conceptSet(0, [[100, { mapped: true, descendants: true }]])], [conditionOn(0)])))).rejects.toMatchObject({
        code: 'FAILED_PRECONDITION',
        message: 'cohort needs OMOP tables that are missing: concept_ancestor, concept_relationship',
      });
    } finally {
      bare.close();
    }
  });

  it('defaults the end to the observation period end', async () => {
    const { rows, result } = await runAndRead(db.conn, circe([conceptSet(0, [[100, { descendants: true }]])], [conditionOn(0)]));
    expect(rows).toEqual([
      [1, '2020-03-01', '2020-12-31'],
      [2, '2020-03-01', '2020-12-31'],
      [3, '2020-03-01', '2020-12-31'],
    ]);
    expect(result).toMatchObject({ persons: 3, entries: 3, attrition: [] });
  });
});

describe('observation window and limits', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      ...vocabulary,
      person: [[1, MALE, 1970, 0, 0]],
      observation_period: [OP_2020(1, 1)],
      condition_occurrence: [
        [1, 1, 100, '2019-06-01', null, null, 0], // before the observation period
        [2, 1, 100, '2020-01-15', null, null, 0],
        [3, 1, 100, '2020-02-15', null, null, 0],
        [4, 1, 100, '2020-09-01', null, null, 0],
        [5, 1, 100, '2020-12-25', null, null, 0],
      ],
    });
  });
  afterAll(() => db.close());
  const sets = [conceptSet(0, [100])];

  it('keeps only events inside an observation period', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [conditionOn(0)], endAtStartPlus(1)));
    expect(rows.map((r) => r[1])).toEqual(['2020-01-15', '2020-02-15', '2020-09-01', '2020-12-25']);
  });

  it('requires PriorDays before and PostDays after the index within the period', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [conditionOn(0)], endAtStartPlus(1), { prior: 30, post: 10 }));
    expect(rows).toEqual([
      [1, '2020-02-15', '2020-02-16'],
      [1, '2020-09-01', '2020-09-02'],
    ]);
  });

  it('PrimaryCriteriaLimit First / Last pick the earliest / latest event in observation', async () => {
    const first = await runAndRead(db.conn, circe(sets, [conditionOn(0)], endAtStartPlus(1), { limit: 'First' }));
    expect(first.rows).toEqual([[1, '2020-01-15', '2020-01-16']]);
    const last = await runAndRead(db.conn, circe(sets, [conditionOn(0)], endAtStartPlus(1), { limit: 'Last' }));
    expect(last.rows).toEqual([[1, '2020-12-25', '2020-12-26']]);
  });

  it('a criterion-level First takes the first event ever, even outside observation', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [conditionOn(0, { First: true })], endAtStartPlus(1)));
    expect(rows).toEqual([]);
  });

  it('ExpressionLimit First / Last apply after the inclusion rules', async () => {
    const rules = { InclusionRules: [rule('after February', { DemographicCriteriaList: [{ OccurrenceStartDate: { Op: 'gt', Value: '2020-02-01' } }] })] };
    const first = await runAndRead(db.conn, circe(sets, [conditionOn(0)], { ...endAtStartPlus(1), ...rules, ExpressionLimit: { Type: 'First' } }));
    expect(first.rows).toEqual([[1, '2020-02-15', '2020-02-16']]);
    const last = await runAndRead(db.conn, circe(sets, [conditionOn(0)], { ...endAtStartPlus(1), ...rules, ExpressionLimit: { Type: 'Last' } }));
    expect(last.rows).toEqual([[1, '2020-12-25', '2020-12-26']]);
  });

  it('QualifiedLimit applies only when AdditionalCriteria is present (as in Circe)', async () => {
    const without = await runAndRead(db.conn, circe(sets, [conditionOn(0)], { ...endAtStartPlus(1), QualifiedLimit: { Type: 'First' } }));
    expect(without.rows).toHaveLength(4);
    const withEmpty = await runAndRead(
      db.conn,
      circe(sets, [conditionOn(0)], { ...endAtStartPlus(1), QualifiedLimit: { Type: 'First' }, AdditionalCriteria: { Type: 'ALL', CriteriaList: [] } }),
    );
    expect(withEmpty.rows).toEqual([[1, '2020-01-15', '2020-01-16']]);
  });

  it('AdditionalCriteria filters primary events before QualifiedLimit', async () => {
    const ac = { Type: 'ALL', DemographicCriteriaList: [{ OccurrenceStartDate: { Op: 'bt', Value: '2020-02-01', Extent: '2020-10-01' } }] };
    const { rows } = await runAndRead(db.conn, circe(sets, [conditionOn(0)], { ...endAtStartPlus(1), QualifiedLimit: { Type: 'Last' }, AdditionalCriteria: ac }));
    expect(rows).toEqual([[1, '2020-09-01', '2020-09-02']]);
  });
});

describe('domains and their default end dates', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      ...vocabulary,
      person: [[1, MALE, 1970, 0, 0]],
      observation_period: [OP_2020(1, 1)],
      condition_occurrence: [[1, 1, 100, '2020-01-10', null, null, 0]],
      condition_era: [[1, 1, 100, '2020-02-01', '2020-02-20']],
      drug_era: [[1, 1, 500, '2020-03-01', '2020-03-31']],
      drug_exposure: [
        [1, 1, 500, '2020-06-10', null, 10, null, 0],
        [2, 1, 500, '2020-07-10', null, null, null, 0],
        [3, 1, 500, '2020-08-10', '2020-08-12', 30, null, 0],
      ],
      procedure_occurrence: [[1, 1, 700, '2020-04-01', null]],
      observation: [[1, 1, 200, '2020-04-15', null, null]],
      measurement: [[1, 1, 800, '2020-05-01', 5.5, null]],
      visit_occurrence: [[1, 1, 9201, '2020-05-10', '2020-05-13']],
      death: [[1, '2020-11-01', 0]],
    });
  });
  afterAll(() => db.close());

  const sets = [conceptSet(0, [100]), conceptSet(1, [500]), conceptSet(2, [700]), conceptSet(3, [200]), conceptSet(4, [800])];
  const endAtEnd = { EndStrategy: { DateOffset: { DateField: 'EndDate', Offset: 0 } } };
  const cases: [string, object, [string, string][]][] = [
    ['ConditionOccurrence (missing end = start + 1)', { ConditionOccurrence: { CodesetId: 0 } }, [['2020-01-10', '2020-01-11']]],
    ['ConditionEra', { ConditionEra: { CodesetId: 0 } }, [['2020-02-01', '2020-02-20']]],
    ['DrugEra', { DrugEra: { CodesetId: 1 } }, [['2020-03-01', '2020-03-31']]],
    [
      'DrugExposure (end, else start + days_supply, else start + 1)',
      { DrugExposure: { CodesetId: 1 } },
      [['2020-06-10', '2020-06-20'], ['2020-07-10', '2020-07-11'], ['2020-08-10', '2020-08-12']],
    ],
    ['ProcedureOccurrence', { ProcedureOccurrence: { CodesetId: 2 } }, [['2020-04-01', '2020-04-02']]],
    ['Observation', { Observation: { CodesetId: 3 } }, [['2020-04-15', '2020-04-16']]],
    ['Measurement', { Measurement: { CodesetId: 4 } }, [['2020-05-01', '2020-05-02']]],
    ['VisitOccurrence without codeset (any visit)', { VisitOccurrence: {} }, [['2020-05-10', '2020-05-13']]],
    ['Death', { Death: {} }, [['2020-11-01', '2020-11-02']]],
  ];
  for (const [name, criterion, expected] of cases) {
    it(name, async () => {
      const { rows } = await runAndRead(db.conn, circe(sets, [criterion], endAtEnd));
      expect(rows.map((r) => [r[1], r[2]])).toEqual(expected);
    });
  }

  it('Measurement ValueAsNumber and criterion Age / Gender / OccurrenceStartDate filter events', async () => {
    const hit = await runAndRead(db.conn, circe(sets, [{ Measurement: { CodesetId: 4, ValueAsNumber: { Op: 'bt', Value: 5, Extent: 6 } } }]));
    expect(hit.rows).toHaveLength(1);
    const miss = await runAndRead(db.conn, circe(sets, [{ Measurement: { CodesetId: 4, ValueAsNumber: { Op: 'gt', Value: 5.5 } } }]));
    expect(miss.rows).toHaveLength(0);
    const age = await runAndRead(db.conn, circe(sets, [{ ConditionOccurrence: { CodesetId: 0, Age: { Op: 'eq', Value: 50 } } }]));
    expect(age.rows).toHaveLength(1);
    const female = await runAndRead(db.conn, circe(sets, [{ ConditionOccurrence: { CodesetId: 0, Gender: [{ CONCEPT_ID: FEMALE }] } }]));
    expect(female.rows).toHaveLength(0);
    const late = await runAndRead(db.conn, circe(sets, [{ DrugExposure: { CodesetId: 1, OccurrenceStartDate: { Op: 'gte', Value: '2020-07-10' } } }], endAtEnd));
    expect(late.rows.map((r) => r[1])).toEqual(['2020-07-10', '2020-08-10']);
  });

  it('several primary criteria are a union', async () => {
    const { rows } = await runAndRead(db.conn, circe(sets, [{ DrugEra: { CodesetId: 1 } }, { ProcedureOccurrence: { CodesetId: 2 } }], endAtEnd));
    expect(rows.map((r) => r[1])).toEqual(['2020-03-01', '2020-04-01']);
  });
});

describe('inclusion rules: windows, occurrence types, groups, attrition', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      ...vocabulary,
      person: [
        [1, MALE, 1960, 0, 0],
        [2, FEMALE, 1970, 0, 0],
        [3, FEMALE, 1990, 0, 0],
        [4, MALE, 1985, 0, 0],
        [5, FEMALE, 1950, 0, 0],
      ],
      observation_period: [1, 2, 3, 4, 5].map((p) => OP_2020(p, p)),
      condition_occurrence: [
        [1, 1, 100, '2020-06-01', null, 10, 0],
        [2, 2, 100, '2020-06-01', null, 20, 0],
        [3, 3, 100, '2020-06-01', null, 30, 0],
        [4, 4, 100, '2020-06-01', null, 40, 0],
        [5, 5, 100, '2020-01-10', null, 50, 0],
      ],
      drug_exposure: [
        [1, 1, 500, '2020-05-10', '2020-05-15', null, 99, 0],
        [2, 1, 500, '2020-05-20', '2020-06-10', null, 10, 0],
        [3, 2, 500, '2020-04-01', '2020-04-05', null, null, 0],
        [4, 3, 500, '2020-06-01', '2020-06-05', null, 33, 0],
        [5, 4, 500, '2020-06-02', '2020-06-03', null, null, 0],
        [6, 5, 500, '2019-12-20', '2019-12-25', null, null, 0], // before person 5's observation period
      ],
      measurement: [
        [1, 1, 800, '2020-05-01', 5.5, null],
        [2, 2, 800, '2020-05-01', 12, null],
      ],
    });
  });
  afterAll(() => db.close());

  const sets = [conceptSet(0, [100]), conceptSet(1, [500]), conceptSet(4, [800])];
  const drug = { DrugExposure: { CodesetId: 1 } };
  const prior30 = window(-30, 0);
  const withRules = (...rules: object[]) => circe(sets, [conditionOn(0)], { InclusionRules: rules });
  const drugRule = (occ: { type: 0 | 1 | 2; count: number; distinct?: boolean }, win: object = prior30, extra = {}) =>
    rule('drug', { CriteriaList: [correlated(drug, occ, win, extra)] });

  // Drug exposures starting 30..0 days before the index, within observation: p1 2, p2 0, p3 1, p4 0, p5 0.
  const occurrenceCases: [string, object, number[]][] = [
    ['at least 1', drugRule({ type: 2, count: 1 }), [1, 3]],
    ['exactly 0', drugRule({ type: 0, count: 0 }), [2, 4, 5]],
    ['at most 1', drugRule({ type: 1, count: 1 }), [2, 3, 4, 5]],
    ['exactly 2', drugRule({ type: 0, count: 2 }), [1]],
    ['at least 2', drugRule({ type: 2, count: 2 }), [1]],
    ['at least 2 distinct concepts', drugRule({ type: 2, count: 2, distinct: true }), []],
    ['at least 1, ignoring the observation period', drugRule({ type: 2, count: 1 }, prior30, { IgnoreObservationPeriod: true }), [1, 3, 5]],
    ['unbounded before (to the period start)', drugRule({ type: 2, count: 1 }, window(null, 0)), [1, 2, 3]],
    ['1..30 days after', drugRule({ type: 2, count: 1 }, window(1, 30)), [4]],
    ['in the same visit', drugRule({ type: 2, count: 1 }, window(null, null), { RestrictVisit: true }), [1]],
    [
      'EndWindow: exposure ending on or after the index (event end by default)',
      drugRule({ type: 2, count: 1 }, window(null, null), { EndWindow: window(0, null) }),
      [1, 3, 4],
    ],
    [
      'measurement value in a window',
      rule('high', {
        CriteriaList: [correlated({ Measurement: { CodesetId: 4, ValueAsNumber: { Op: 'gt', Value: 10 } } }, { type: 2, count: 1 }, window(-60, 0))],
      }),
      [2],
    ],
  ];
  for (const [name, r, expected] of occurrenceCases) {
    it(`occurrence: ${name}`, async () => {
      const { rows } = await runAndRead(db.conn, withRules(r));
      expect(subjects(rows)).toEqual(expected);
    });
  }

  const drugAtLeast1 = correlated(drug, { type: 2, count: 1 }, prior30);
  const female = { Gender: [{ CONCEPT_ID: FEMALE }] };
  // Age at index (year difference): p1 60, p2 50, p3 30, p4 35, p5 70.
  const groupCases: [string, object, number[]][] = [
    ['ANY', rule('any', { Type: 'ANY', CriteriaList: [drugAtLeast1], DemographicCriteriaList: [female] }), [1, 2, 3, 5]],
    ['ALL', rule('all', { Type: 'ALL', CriteriaList: [drugAtLeast1], DemographicCriteriaList: [female] }), [3]],
    [
      'AT_LEAST 2',
      rule('al2', { Type: 'AT_LEAST', Count: 2, CriteriaList: [drugAtLeast1], DemographicCriteriaList: [female, { Age: { Op: 'gte', Value: 60 } }] }),
      [1, 3, 5],
    ],
    [
      'AT_MOST 0',
      rule('am0', { Type: 'AT_MOST', Count: 0, CriteriaList: [drugAtLeast1], DemographicCriteriaList: [female] }),
      [4],
    ],
    [
      'nested group',
      rule('nested', {
        Type: 'ALL',
        DemographicCriteriaList: [{ Age: { Op: 'lt', Value: 60 } }],
        Groups: [{ Type: 'ANY', CriteriaList: [drugAtLeast1], DemographicCriteriaList: [female], Groups: [] }],
      }),
      [2, 3],
    ],
    ['gender male', rule('male', { DemographicCriteriaList: [{ Gender: [{ CONCEPT_ID: MALE }] }] }), [1, 4]],
    ['age between 35 and 60', rule('age', { DemographicCriteriaList: [{ Age: { Op: 'bt', Value: 35, Extent: 60 } }] }), [1, 2, 4]],
    ['empty rule keeps everyone', rule('empty', {}), [1, 2, 3, 4, 5]],
  ];
  for (const [name, r, expected] of groupCases) {
    it(`group: ${name}`, async () => {
      const { rows } = await runAndRead(db.conn, withRules(r));
      expect(subjects(rows)).toEqual(expected);
    });
  }

  it('reports attrition as those satisfying every rule up to each one', async () => {
    const { result, rows } = await runAndRead(
      db.conn,
      withRules(drugRule({ type: 2, count: 1 }), rule('age >= 50', { DemographicCriteriaList: [{ Age: { Op: 'gte', Value: 50 } }] })),
    );
    expect(result.qualified).toEqual({ persons: 5, entries: 5 });
    expect(result.attrition).toEqual([
      { rule: 'drug', persons: 2, entries: 2 },
      { rule: 'age >= 50', persons: 1, entries: 1 },
    ]);
    expect(subjects(rows)).toEqual([1]);
    expect(result).toMatchObject({ persons: 1, entries: 1 });
  });

  it('a criterion with its own CorrelatedCriteria', async () => {
    const entry = conditionOn(0, { CorrelatedCriteria: { Type: 'ALL', CriteriaList: [drugAtLeast1] } });
    const { rows } = await runAndRead(db.conn, circe(sets, [entry]));
    expect(subjects(rows)).toEqual([1, 3]);
  });
});
