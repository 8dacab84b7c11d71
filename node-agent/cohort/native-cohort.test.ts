/**
 * The native cohort spec: validation messages that name the field, and its meaning on a hand-made fixture.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { parseNativeCohort } from './index.js';
import { runAndRead, subjects } from './test-circe.js';
import { omopDbWith } from './test-omop.js';
import type { TestDb } from './test-omop.js';

const MALE = 8507;
const FEMALE = 8532;
const spec = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 100, descendants: true }] } },
  ...over,
});

describe('parseNativeCohort validation', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a missing entry', { entry: undefined }, 'entry'],
    ['an unknown domain', spec({ entry: { domain: 'device', concepts: { include: [1] } } }), 'entry.domain'],
    ['an empty concept list', spec({ entry: { domain: 'drug', concepts: { include: [] } } }), 'entry.concepts.include'],
    ['a fractional concept id', spec({ entry: { domain: 'drug', concepts: { include: [1.5] } } }), 'entry.concepts.include[0]'],
    ['a value range off a measurement', spec({ entry: { domain: 'drug', concepts: { include: [1] }, valueRange: { min: 1 } } }), 'entry.valueRange'],
    ['negative prior observation', spec({ observation: { priorDays: -1 } }), 'observation.priorDays'],
    ['an unknown field', spec({ colour: 'blue' }), 'colour'],
    ['an unknown rule type', spec({ inclusionRules: [{ type: 'zodiac' }] }), 'inclusionRules[0].type'],
    ['an inverted age range', spec({ inclusionRules: [{ type: 'age', min: 60, max: 20 }] }), 'inclusionRules[0]'],
    ['an inverted window', spec({ inclusionRules: [{ type: 'occurrence', domain: 'drug', concepts: { include: [5] }, window: { startDays: 10, endDays: -10 } }] }), 'inclusionRules[0].window'],
    ['a bad count op', spec({ inclusionRules: [{ type: 'occurrence', domain: 'drug', concepts: { include: [5] }, window: {}, count: { op: 'some', value: 1 } }] }), 'inclusionRules[0].count.op'],
    ['a measurement rule with no range', spec({ inclusionRules: [{ type: 'measurement', concepts: { include: [5] }, window: {} }] }), 'inclusionRules[0].valueRange'],
    ['a NaN value bound', spec({ inclusionRules: [{ type: 'measurement', concepts: { include: [5] }, window: {}, valueRange: { min: Number.NaN } }] }), 'inclusionRules[0].valueRange.min'],
    ['an unknown exit', spec({ exit: { type: 'whenever' } }), 'exit.type'],
    ['a fractional exit offset', spec({ exit: { type: 'fixedOffset', days: 1.5 } }), 'exit.days'],
  ];
  for (const [name, def, field] of cases) {
    it(`rejects ${name}, naming ${field}`, () => {
      let err: unknown;
      try {
        parseNativeCohort(def);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FedmeshError);
      expect((err as FedmeshError).code).toBe('INVALID_JOB');
      expect((err as FedmeshError).field).toBe(field);
      expect((err as FedmeshError).message.startsWith(`${field}: `)).toBe(true);
    });
  }
});

describe('native cohorts on a fixture', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      concept: [
        [100, 'parent', null],
        [101, 'child', null],
        [500, 'drug', null],
        [800, 'lab', null],
      ],
      concept_ancestor: [
        [100, 100],
        [100, 101],
        [101, 101],
      ],
      person: [
        [1, MALE, 1960, 0, 0],
        [2, FEMALE, 1970, 0, 0],
        [3, FEMALE, 1990, 0, 0],
      ],
      observation_period: [1, 2, 3].map((p) => [p, p, '2020-01-01', '2020-12-31']),
      condition_occurrence: [
        [1, 1, 100, '2020-06-01', null, null, 0],
        [2, 1, 101, '2020-08-01', null, null, 0],
        [3, 2, 101, '2020-06-01', null, null, 0],
        [4, 3, 100, '2020-01-20', null, null, 0],
      ],
      drug_exposure: [
        [1, 1, 500, '2020-05-20', null, 5, null, 0],
        [2, 3, 500, '2020-01-10', null, 5, null, 0],
      ],
      measurement: [
        [1, 1, 800, '2020-06-03', 9.5, null],
        [2, 2, 800, '2020-06-03', 14, null],
      ],
    });
  });
  afterAll(() => db.close());

  it('entry by concept set with descendants; first event; exit at observation end', async () => {
    const { rows } = await runAndRead(db.conn, parseNativeCohort(spec()));
    expect(rows).toEqual([
      [1, '2020-06-01', '2020-12-31'],
      [2, '2020-06-01', '2020-12-31'],
      [3, '2020-01-20', '2020-12-31'],
    ]);
  });

  it('all events with a fixed exit; exclusions', async () => {
    const { rows } = await runAndRead(
      db.conn,
      parseNativeCohort(
        spec({
          entry: { domain: 'condition', concepts: { include: [100], exclude: [101], descendants: true }, occurrence: 'all' },
          exit: { type: 'fixedOffset', from: 'start', days: 30 },
        }),
      ),
    );
    expect(rows).toEqual([
      [1, '2020-06-01', '2020-07-01'],
      [3, '2020-01-20', '2020-02-19'],
    ]);
  });

  it('required prior observation', async () => {
    const { rows } = await runAndRead(db.conn, parseNativeCohort(spec({ observation: { priorDays: 30 } })));
    expect(subjects(rows)).toEqual([1, 2]);
  });

  it('inclusion rules: age, gender, occurrences in a window, measurement values, with attrition', async () => {
    const ir = parseNativeCohort(
      spec({
        inclusionRules: [
          { name: 'age 30-60', type: 'age', min: 30, max: 60 },
          { name: 'drug in prior 30d', type: 'occurrence', domain: 'drug', concepts: { include: [500] }, window: { startDays: -30, endDays: 0 } },
          { name: 'lab < 10 within a week', type: 'measurement', concepts: { include: [800] }, valueRange: { max: 10 }, window: { startDays: -7, endDays: 7 } },
        ],
      }),
    );
    const { rows, result } = await runAndRead(db.conn, ir);
    // Ages 60, 50, 30 → all pass; drug in window: persons 1 and 3; lab < 10: person 1.
    expect(result.attrition).toEqual([
      { rule: 'age 30-60', persons: 3, entries: 3 },
      { rule: 'drug in prior 30d', persons: 2, entries: 2 },
      { rule: 'lab < 10 within a week', persons: 1, entries: 1 },
    ]);
    expect(subjects(rows)).toEqual([1]);
  });

  it('gender and "none of" rules', async () => {
    const ir = parseNativeCohort(
      spec({
        inclusionRules: [
          { type: 'gender', conceptIds: [FEMALE] },
          { type: 'occurrence', domain: 'drug', concepts: { include: [500] }, window: {}, count: { op: 'exactly', value: 0 } },
        ],
      }),
    );
    expect(subjects((await runAndRead(db.conn, ir)).rows)).toEqual([2]);
  });
});
