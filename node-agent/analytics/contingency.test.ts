import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chiSquareIndependence } from '../../algorithms/stats/index.js';
import { FedmeshError } from '../../common/errors.js';
import { omopDbWith } from '../cohort/test-omop.js';
import type { TestDb } from '../cohort/test-omop.js';
import { cohortAttributeCounts, contingencyCounts } from './index.js';
import type { ContingencyOptions } from './index.js';
import { createCohortTable } from './test-data.js';

/*
 * survey(person_id, sex, smoker, age DOUBLE, grp BIGINT, seen DATE), levels sex {M, F} × smoker {yes, no}:
 *   p1 (M, yes) age 50           → cell (M, yes)
 *   p2 (F, no)  age 35           → cell (F, no)
 *   p3 (F, no) twice, age 60     → cell (F, no) once
 *   p4 (M, no) age 20, (F, no) age 40 → ambiguous (without a filter)
 *   p5 (X, yes) age 70           → outside
 *   p6 (M, NULL) age 10          → outside
 *   NULL person (M, yes)         → ignored
 *   p8 (M, yes) age 25           → cell (M, yes)
 */
const rows: [number | null, string | null, string | null, number, number, string][] = [
  [1, 'M', 'yes', 50, 1, '2020-01-01'],
  [2, 'F', 'no', 35, 2, '2020-01-02'],
  [3, 'F', 'no', 60, 2, '2020-01-03'],
  [3, 'F', 'no', 60, 2, '2020-01-04'],
  [4, 'M', 'no', 20, 1, '2020-01-05'],
  [4, 'F', 'no', 40, 1, '2020-01-06'],
  [5, 'X', 'yes', 70, 3, '2020-01-07'],
  [6, 'M', null, 10, 1, '2020-01-08'],
  [null, 'M', 'yes', 30, 1, '2020-01-09'],
  [8, 'M', 'yes', 25, 1.5 as number, '2020-01-10'],
];

const base: ContingencyOptions = {
  table: 'survey',
  rowColumn: 'sex',
  colColumn: 'smoker',
  rowLevels: ['M', 'F'],
  colLevels: ['yes', 'no'],
};

describe('contingencyCounts', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith({
      person: [
        [1, 8507, 1950, 8527, 0],
        [2, 8532, 1960, 8516, 0],
        [3, 8532, 1970, 8527, 0],
        [4, 8507, 1980, 0, 0],
        [5, 8551, 1990, 8527, 0],
      ],
    });
    await db.conn.run('CREATE TABLE survey (person_id BIGINT, sex VARCHAR, smoker VARCHAR, age DOUBLE, grp BIGINT, seen DATE)');
    for (const r of rows) {
      await db.conn.run('INSERT INTO survey VALUES ($1::BIGINT, $2::VARCHAR, $3::VARCHAR, $4::DOUBLE, round($5)::BIGINT, $6::DATE)', r);
    }
    await createCohortTable(db.conn, 'cohort_c', [
      [1, '2020-01-01', '2020-01-02'],
      [1, '2021-01-01', '2021-01-02'],
      [2, '2020-01-01', '2020-01-02'],
      [9, '2020-01-01', '2020-01-02'],
    ]);
  });
  afterAll(() => db?.close());

  it('counts each person once, in one cell, outside, or ambiguous', async () => {
    expect(await contingencyCounts(db.conn, base)).toEqual({ counts: [[2n, 0n], [0n, 2n]], outside: 2n, ambiguous: 1n });
  });

  it('applies typed filters with bound values', async () => {
    const r = await contingencyCounts(db.conn, { ...base, where: [{ column: 'age', op: '>=', value: 30 }] });
    expect(r).toEqual({ counts: [[1n, 0n], [0n, 3n]], outside: 1n, ambiguous: 0n });
    const r2 = await contingencyCounts(db.conn, {
      ...base,
      where: [
        { column: 'seen', op: 'between', value: ['2020-01-01', '2020-01-05'] },
        { column: 'grp', op: 'in', value: [1, 2] },
        { column: 'smoker', op: 'is not null' },
      ],
    });
    // p1 (M, yes), p2 and p3 (F, no), p4's first row only (M, no).
    expect(r2).toEqual({ counts: [[1n, 1n], [0n, 2n]], outside: 0n, ambiguous: 0n });
  });

  it('compares numeric levels in the column type', async () => {
    const r = await contingencyCounts(db.conn, { ...base, rowColumn: 'grp', rowLevels: [1, 2, 3], colColumn: 'age', colLevels: [50, 60, 35] });
    // grp 2 = p2 (age 35) and p3 (age 60); grp 1 = p1 age 50, p8 grp round(1.5) = 2 age 25 → outside.
    expect(r.counts).toEqual([
      [1n, 0n, 0n],
      [0n, 1n, 1n],
      [0n, 0n, 0n],
    ]);
  });

  it('never interpolates level values into SQL', async () => {
    const r = await contingencyCounts(db.conn, { ...base, rowLevels: ["M' OR 1=1 --", 'F'] });
    expect(r.counts[0]).toEqual([0n, 0n]);
    expect((await db.conn.runAndReadAll('SELECT COUNT(*) AS n FROM survey')).getRowObjectsJS()[0]).toEqual({ n: 10n });
  });

  it('feeds the chi-square test', async () => {
    const r = await contingencyCounts(db.conn, base);
    const test = chiSquareIndependence(r.counts.map((row) => row.map(Number)));
    // Perfect association in a 2 × 2 table: Pearson's statistic equals n = 4.
    expect(test.df).toBe(1);
    expect(test.statistic).toBeCloseTo(4, 12);
  });

  it('rejects bad names and levels with messages naming the option', async () => {
    const bad: [Partial<ContingencyOptions> | Record<string, unknown>, RegExp][] = [
      [{ table: 'nope' }, /^opts\.table: no table/],
      [{ rowColumn: 'nope' }, /^opts\.rowColumn: no column "nope"/],
      [{ colColumn: 'smoker"; DROP TABLE survey; --' }, /^opts\.colColumn: no column/],
      [{ personColumn: 'pid' }, /^opts\.personColumn: /],
      [{ rowLevels: [] }, /^opts\.rowLevels: /],
      [{ rowLevels: ['M', 'M'] }, /^opts\.rowLevels\[1\]: duplicate/],
      [{ rowColumn: 'grp', rowLevels: ['1'] }, /^opts\.rowLevels\[0\]: must be an integer/],
      [{ colLevels: [1] }, /^opts\.colLevels\[0\]: must be a string/],
      [{ where: [{ column: 'nope', op: '=', value: 1 }] }, /^opts\.where\[0\]\.column: no column/],
      [{ where: [{ column: 'age', op: 'LIKE', value: 1 }] }, /^opts\.where\[0\]\.op: /],
      [{ where: [{ column: 'age', op: '=', value: 'x' }] }, /^opts\.where\[0\]\.value: must be a finite number/],
      [{ where: [{ column: 'seen', op: '<', value: '2020-13-45' }] }, /^opts\.where\[0\]\.value: must be a date/],
      [{ where: [{ column: 'grp', op: 'in', value: [] }] }, /^opts\.where\[0\]\.value: /],
    ];
    for (const [patch, message] of bad) {
      const err = await contingencyCounts(db.conn, { ...base, ...patch } as ContingencyOptions).catch((e: unknown) => e);
      expect(err, String(message)).toBeInstanceOf(FedmeshError);
      expect((err as FedmeshError).code).toBe('INVALID_JOB');
      expect((err as Error).message, String(message)).toMatch(message);
    }
    expect((await db.conn.runAndReadAll('SELECT COUNT(*) AS n FROM survey')).getRowObjectsJS()[0]).toEqual({ n: 10n });
  });

  it('finds no person column by itself where the table has none', async () => {
    await db.conn.run('CREATE TABLE nopid AS SELECT sex, smoker FROM survey');
    await expect(contingencyCounts(db.conn, { ...base, table: 'nopid' })).rejects.toThrow(/^opts\.personColumn: /);
    const r = await contingencyCounts(db.conn, { ...base, table: 'nopid', personColumn: 'sex' });
    expect(r.counts[0]![0]).toBe(0n); // each "person" M has rows in several places
  });

  it('crosses cohort membership with a person attribute', async () => {
    const r = await cohortAttributeCounts(db.conn, { cohortTable: 'cohort_c', column: 'gender_concept_id', levels: [8507, 8532] });
    // In the cohort: p1 (male), p2 (female), p9 (no person row → outside). Others: p3 female, p4 male, p5 8551 → outside.
    expect(r).toEqual({ counts: [[1n, 1n], [1n, 1n]], outside: 2n, ambiguous: 0n });
    await expect(cohortAttributeCounts(db.conn, { cohortTable: 'cohort_c', column: 'nope', levels: [1] })).rejects.toThrow(/^opts\.column: /);
    await expect(cohortAttributeCounts(db.conn, { cohortTable: 'survey', column: 'gender_concept_id', levels: [1] })).rejects.toThrow(
      /^opts\.cohortTable: /,
    );
  });
});
