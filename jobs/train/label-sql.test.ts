/**
 * Declared label levels read at the agent (label-sql.ts, label.ts, data.ts) against DuckDB: string levels map to
 * their class index in SQL, in the declared order; a value outside the list is left out and its row count is
 * reported only when those rows are of at least the minimum cell size of persons (never the value); the per-level
 * rule counts distinct persons, not rows (negative control: the same rows, one person each, pass); a DP job with
 * declared levels reads too; levels and column types that do not fit are refused naming the field.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import type { SchemaProduct } from '../../common/job/index.js';
import { readTrainData } from './data.js';
import { labelExcludedReport } from './label.js';
import { MAX_LABEL_LEVELS } from './loss.js';
import { parseTrainSpec } from './spec.js';

const LEVELS = ['none', 'mild', 'severe'];
const spec = (over: Record<string, unknown> = {}) =>
  parseTrainSpec({
    kind: 'train',
    product: 'p',
    label: { column: 'grade', levels: LEVELS },
    // `code` carries the class the row's label should map to (3 for an unlisted value), so the test can check it.
    features: [{ column: 'code', type: 'numeric', bounds: [0, 3] }, { column: 'x', type: 'numeric', bounds: [0, 1] }],
    split: { column: 'split', train: 'train', test: 'test' },
    model: { type: 'logistic' },
    loss: 'categorical-crossentropy',
    ...over,
  });

let instance: DuckDBInstance;
let conn: DuckDBConnection;
const cols = [{ name: 'person_id', type: 'BIGINT' }, { name: 'grade', type: 'VARCHAR' }, { name: 'num_grade', type: 'INTEGER' }, { name: 'code', type: 'DOUBLE' }, { name: 'x', type: 'DOUBLE' }, { name: 'split', type: 'VARCHAR' }];
/** 300 persons × 4 rows: grades none/mild/severe by person, 'unknown' for persons 1–6 (24 rows), one NULL grade. */
const product: SchemaProduct = { name: 'p', columns: cols, privacyUnit: 'person_id' };
/** Table q: severe only for persons 1 and 2, with 10 rows each (20 rows ≫ 2 persons). */
const few: SchemaProduct = { name: 'q', columns: cols, privacyUnit: 'person_id' };

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  const grade = (pid: string) => `CASE WHEN ${pid} <= 6 THEN 'unknown' WHEN ${pid} % 3 = 0 THEN 'none' WHEN ${pid} % 3 = 1 THEN 'mild' ELSE 'severe' END`;
  await conn.run(`CREATE TABLE p AS SELECT person_id, ${grade('person_id')} AS grade, (person_id % 3)::INTEGER AS num_grade,
    CASE WHEN person_id <= 6 THEN 3 WHEN person_id % 3 = 0 THEN 0 WHEN person_id % 3 = 1 THEN 1 ELSE 2 END::DOUBLE AS code,
    (r / 4.0)::DOUBLE AS x, CASE WHEN r = 0 THEN 'test' ELSE 'train' END AS split
    FROM range(1, 301) t(person_id), range(0, 4) s(r)`);
  await conn.run(`INSERT INTO p VALUES (7, NULL, 1, 1, 0.5, 'train')`);
  await conn.run(`CREATE TABLE q AS SELECT person_id, CASE WHEN person_id <= 2 THEN 'severe' WHEN person_id % 2 = 0 THEN 'none' ELSE 'mild' END AS grade,
    0::INTEGER AS num_grade, 0::DOUBLE AS code, 0.5::DOUBLE AS x, CASE WHEN person_id % 4 = 0 THEN 'test' ELSE 'train' END AS split
    FROM range(1, 101) t(person_id), range(0, 10) s(r) WHERE person_id <= 2 OR r = 0`);
});
afterAll(() => {
  conn?.closeSync();
  instance?.closeSync();
});

const read = (s: ReturnType<typeof spec>, p: SchemaProduct, minCellSize = 1) => readTrainData(conn, s, p, { salt: 'a', minCellSize, scratch: 'job_l' });

async function failure(p: Promise<unknown>): Promise<{ code: string; field?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isFedmeshError(e)) return { code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) };
    throw e;
  }
  throw new Error('accepted');
}

describe('string label levels, mapped in SQL', () => {
  it('maps every row to its level\'s index in the declared order; unlisted values are left out and counted, a NULL label dropped as missing', async () => {
    const d = await read(spec(), product);
    expect(d.train.n + d.test.n).toBe(294 * 4);
    for (const part of [d.train, d.test]) for (let r = 0; r < part.n; r++) expect(part.y[r]).toBe(Math.round(part.x[r * 2]! * 3));
    expect(d.labelExcluded).toBe(24);
    expect(d.labelExcludedPersons).toBe(6);
    expect(d.nDropped).toBe(1);
    // Another order of the same levels gives other indices (negative control of the order).
    const re = await read(spec({ label: { column: 'grade', levels: ['severe', 'none', 'mild'] } }), product);
    const expected = (code: number) => ['severe', 'none', 'mild'].indexOf(LEVELS[code]!);
    for (let r = 0; r < re.train.n; r++) expect(re.train.y[r]).toBe(expected(Math.round(re.train.x[r * 2]! * 3)));
  });

  it('reports the left-out rows only when they are of ≥ the minimum cell size of persons (24 rows of 6 persons): 6 → 24, 7 → withheld (0)', async () => {
    const d = await read(spec(), product);
    expect(labelExcludedReport(d, 6)).toBe(24);
    expect(labelExcludedReport(d, 7)).toBe(0);
  });

  it('numeric levels on a numeric column still map (and a binary loss takes two string levels as 0, 1)', async () => {
    const d = await read(spec({ label: { column: 'num_grade', levels: [2, 0, 1] } }), product);
    expect(d.labelExcluded).toBe(0);
    expect(d.train.n + d.test.n).toBe(300 * 4 + 1);
    const b = await read(spec({ label: { column: 'grade', levels: ['none', 'mild'] }, loss: 'binary-crossentropy' }), product);
    expect(new Set(b.train.y)).toEqual(new Set([0, 1]));
  });

  it('a DP job with declared levels reads (the class column has public bounds, nothing clamped): one row per person (maxRowsPerPerson 1)', async () => {
    const d = await read(spec({ privacy: { mode: 'central-dp', epsilon: 4, delta: 1e-6, clip: 1 }, training: { rounds: 5, learningRate: 1 } }), product);
    expect(d.train.n + d.test.n).toBe(294);
    for (const part of [d.train, d.test]) for (let r = 0; r < part.n; r++) expect(part.y[r]).toBe(Math.round(part.x[r * 2]! * 3));
  });

  it('with a hash split of the privacy unit the two TEMP tables chain: the same rows, classes and left-out count as with the split column', async () => {
    const d = await read(spec({ split: { hash: { fraction: 0.25, salt: 's' } } }), product);
    expect(d.train.n + d.test.n).toBe(294 * 4);
    expect(d.test.n).toBeGreaterThan(0);
    for (const part of [d.train, d.test]) for (let r = 0; r < part.n; r++) expect(part.y[r]).toBe(Math.round(part.x[r * 2]! * 3));
    expect(d.labelExcluded).toBe(24);
    // Both TEMP tables are dropped afterwards.
    const left = (await conn.runAndReadAll("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name LIKE 'job_l%'")).getRowObjectsJS();
    expect(Number(left[0]!.n)).toBe(0);
  });

  it('levels that do not fit the column\'s type are refused naming label.levels; the unlisted value is never in a message', async () => {
    const f = await failure(read(spec({ label: { column: 'num_grade', levels: LEVELS } }), product));
    expect(f).toMatchObject({ code: 'INVALID_JOB', field: 'label.levels' });
    expect(f.message).toMatch(/INTEGER/);
    expect((await failure(read(spec({ label: { column: 'grade', levels: [0, 1, 2] } }), product))).field).toBe('label.levels');
    const denied = await failure(read(spec(), few, 5));
    expect(denied.message).not.toMatch(/unknown|severe/);
  });
});

describe('the per-level minimum cell size counts persons, not rows', () => {
  it('20 "severe" rows of 2 persons at minimum cell size 5: POLICY_DENIED (rows would pass); the same rows as 20 persons pass (negative control)', async () => {
    const f = await failure(read(spec(), few, 5));
    expect(f.code).toBe('POLICY_DENIED');
    expect(f.message).toMatch(/train\.labelLevels.*persons/);
    // Negative control: one person per row (the unit is the row number) — 20 persons of class severe.
    await conn.run('CREATE TABLE q2 AS SELECT row_number() OVER () AS person_id, grade, num_grade, code, x, split FROM q');
    const d = await read(spec(), { ...few, name: 'q2' }, 5);
    expect(d.train.n + d.test.n).toBe(20 + 98);
    // A product without a privacy unit counts rows (each row its own unit): 20 ≥ 5 passes.
    const noUnit = await read(spec(), { ...few, privacyUnit: undefined }, 5);
    expect(noUnit.train.n + noUnit.test.n).toBe(20 + 98);
  });
});

describe('label levels in the spec', () => {
  const field = (levels: unknown): string | undefined => {
    try {
      spec({ label: { column: 'grade', levels } });
      return undefined;
    } catch (e) {
      if (!isFedmeshError(e) || e.code !== 'INVALID_JOB') throw e;
      return e.field;
    }
  };
  it.each([
    ['a duplicate', ['none', 'mild', 'none'], 'label.levels'],
    ['an empty string', ['none', '', 'severe'], 'label.levels[1]'],
    ['a blank string', ['none', '  ', 'severe'], 'label.levels[1]'],
    ['numbers and strings mixed', ['none', 1, 'severe'], 'label.levels[1]'],
    ['more than the maximum', Array.from({ length: MAX_LABEL_LEVELS + 1 }, (_, i) => `l${i}`), 'label.levels'],
    ['one level', ['none'], 'label.levels'],
    ['an over-long string', ['none', 'x'.repeat(201), 'severe'], 'label.levels[1]'],
  ])('refuses %s → INVALID_JOB naming the field', (_what, levels, f) => {
    expect(field(levels)).toBe(f);
  });
  it('accepts the maximum number of distinct string levels (control)', () => {
    expect(field(Array.from({ length: MAX_LABEL_LEVELS }, (_, i) => `l${i}`))).toBeUndefined();
  });
});
