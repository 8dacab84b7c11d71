/**
 * What each dialect's text means, on the real engines: DuckDB in memory and a throw-away PostgreSQL 15 (skipped
 * with a message when the server binaries are absent). Expected values come from the calendar and from Node's own
 * MD5, not from the code under test. Negative controls show the naive spelling each method replaces is wrong.
 */
import { createHash } from 'node:crypto';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../../test/helpers/postgres.js';
import { duckdbDialect, postgresDialect, type SqlDialect } from './index.js';

const noPg = skipWithoutPostgres('SQL dialect semantics on PostgreSQL');

type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** The same checks for every engine. */
function checks(d: SqlDialect, q: () => Query): void {
  const one = async (expr: string): Promise<unknown> => (await q()(`SELECT ${expr} AS v`))[0]!['v'];
  const text = async (expr: string): Promise<string> => String(await one(d.cast(expr, 'VARCHAR')));

  it('addDays stays a DATE across month and leap-year ends, both signs', async () => {
    expect(await text(d.addDays(d.makeDate('2024', '2', '27'), '3'))).toBe('2024-03-01');
    expect(await text(d.addDays(d.makeDate('2023', '2', '27'), '3'))).toBe('2023-03-02');
    expect(await text(d.addDays(d.makeDate('2024', '1', '1'), '-1'))).toBe('2023-12-31');
  });

  it('daysBetween counts whole days, negative when the end is earlier', async () => {
    expect(Number(await one(d.daysBetween(d.makeDate('2024', '1', '1'), d.makeDate('2024', '12', '31'))))).toBe(365);
    expect(Number(await one(d.daysBetween(d.makeDate('2024', '3', '1'), d.makeDate('2024', '2', '1'))))).toBe(-29);
  });

  it('year and floorDiv (floor, also for negative numerators)', async () => {
    expect(Number(await one(d.year(d.makeDate('1999', '12', '31'))))).toBe(1999);
    expect(Number(await one(d.floorDiv('CAST(7 AS BIGINT)', '2')))).toBe(3);
    expect(Number(await one(d.floorDiv('CAST(-7 AS BIGINT)', '2')))).toBe(-4);
    expect(Number(await one(d.floorDiv('CAST(-8 AS BIGINT)', '2')))).toBe(-4);
    // Compound operands stay grouped (ceil(5 / 3) written as floor((5 + 3 − 1) / 3)).
    expect(Number(await one(d.floorDiv('CAST(5 AS BIGINT) + 3 - 1', '3')))).toBe(2);
  });

  it('integerSeries gives 0 … n − 1 (and nothing for 0)', async () => {
    const rows = await q()(`SELECT s.k FROM ${d.integerSeries(4, 's', 'k')} ORDER BY s.k`);
    expect(rows.map((r) => Number(r['k']))).toEqual([0, 1, 2, 3]);
    expect(await q()(`SELECT s.k FROM ${d.integerSeries(0, 's', 'k')}`)).toHaveLength(0);
  });

  it('stringAgg orders its parts', async () => {
    const v = await one(`(SELECT ${d.stringAgg('x', ',', 'x DESC')} FROM ${d.integerSeries(3, 't', 'x')})`);
    expect(v).toBe('2,1,0');
  });

  it('histogram counts per bin, bins with no rows are 0, NULL bins are not counted', async () => {
    const h = d.histogram('b', 4);
    const rows = await q()(`SELECT ${h.select('h').join(', ')} FROM (SELECT CASE WHEN t.x = 5 THEN NULL ELSE t.x % 3 END AS b FROM ${d.integerSeries(7, 't', 'x')}) z`);
    // x = 0..6 without 5: x % 3 = 0,1,2,0,1,_,0
    expect(h.read(rows[0]!, 'h')).toEqual([3n, 2n, 1n, 0n]);
  });

  it('keyedHash is MD5 of salt|key text, the same on every engine', async () => {
    const expected = createHash('md5').update('s3cret|42|2024-01-05').digest('hex');
    expect(await one(d.keyedHash(`'s3cret'`, ['CAST(42 AS BIGINT)', d.makeDate('2024', '1', '5')]))).toBe(expected);
    // Negative control: another salt gives another order.
    expect(await one(d.keyedHash(`'other'`, ['CAST(42 AS BIGINT)', d.makeDate('2024', '1', '5')]))).not.toBe(expected);
  });

  it('roundToInteger rounds halves away from zero, exactly, as an integer', async () => {
    const cases: [string, bigint][] = [['2.5', 3n], ['-2.5', -3n], ['0.5', 1n], ['1.5', 2n], ['-0.5', -1n], ['0.49999999999999994', 0n], ['-7.4', -7n], ['4503599627370495.5', 4503599627370496n], ['9007199254740992', 9007199254740992n]];
    for (const [x, want] of cases) expect(BigInt(String(await one(d.roundToInteger(d.cast(x, 'DOUBLE')))))).toBe(want);
  });

  it('keyedHash of DOUBLE keys hashes the text DuckDB prints, and jsonTextArray is compact JSON', async () => {
    for (const [x, text] of [['30', '30.0'], [`'-0.0'`, '-0.0'], ['0', '0.0'], ['0.1', '0.1'], ['2.5', '2.5'], ['-7.25', '-7.25'], ['123456.789', '123456.789'], ['0.00001', '1e-05'], ['1e15', '1000000000000000.0'], ['1e16', '1e+16']] as const) {
      const expected = createHash('md5').update(`s|${text}|7`).digest('hex');
      expect(await one(d.keyedHash(`'s'`, [d.cast(x, 'DOUBLE'), 'CAST(7 AS BIGINT)'], ['DOUBLE', 'BIGINT'])), x).toBe(expected);
    }
    expect(await one(d.jsonTextArray([`'a'`, `'b"c'`, d.cast('NULL', 'VARCHAR')]))).toBe('["a","b\\"c",null]');
  });

  it('isFinite: true for finite doubles, false for ±Infinity and NaN, NULL for NULL', async () => {
    for (const [x, want] of [['1.5', true], ['-0.0', true], ['1e308', true], [`'Infinity'`, false], [`'-Infinity'`, false], [`'NaN'`, false]] as const) {
      expect(await one(d.isFinite(d.cast(x, 'DOUBLE'))), x).toBe(want);
    }
    expect(await one(d.isFinite(d.cast('NULL', 'DOUBLE')))).toBeNull();
  });

  it('boolValue is false for false and NULL conditions, isTrue reads it back; limit keeps at most n rows', async () => {
    const rows = await q()(
      `SELECT k, ${d.boolValue('k > 1')} AS b, ${d.boolValue('NULL = k')} AS nb FROM ${d.integerSeries(4, 's', 'k')}`,
    );
    expect(rows.map((r) => [Number(r['k']), r['b'], r['nb']]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([[0, false, false], [1, false, false], [2, true, false], [3, true, false]]);
    const kept = await q()(`SELECT count(*) AS n FROM (SELECT ${d.boolValue('k > 1')} AS b FROM ${d.integerSeries(4, 's', 'k')}) AS t WHERE ${d.isTrue('b')}`);
    expect(Number(kept[0]!['n'])).toBe(2);
    expect(await q()(d.limit(`SELECT k FROM ${d.integerSeries(10, 's', 'k')}`, 3))).toHaveLength(3);
    expect(await q()(d.limit(`WITH w AS (SELECT k FROM ${d.integerSeries(2, 's', 'k')}) SELECT k FROM w ORDER BY k`, 5))).toHaveLength(2);
    expect(() => d.limit('SELECT 1', -1)).toThrow(RangeError);
  });

  it('binaryOrder orders text by its bytes', async () => {
    const rows = await q()(`SELECT w FROM (SELECT 'b' AS w UNION ALL SELECT 'B' UNION ALL SELECT 'a' UNION ALL SELECT '_x' UNION ALL SELECT 'é' UNION ALL SELECT 'Z') AS t ORDER BY ${d.binaryOrder('w')}`);
    expect(rows.map((r) => r['w'])).toEqual(['B', 'Z', '_x', 'a', 'b', 'é']);
  });

  it('a TEMP table made by createTempTableAs is readable and replaced on re-creation', async () => {
    for (const s of d.createTempTableAs('t_sem', 'SELECT 1 AS a')) await q()(s);
    for (const s of d.createTempTableAs('t_sem', 'SELECT 2 AS a UNION ALL SELECT 3')) await q()(s);
    expect((await q()(`SELECT count(*) AS n FROM ${d.tempTable('t_sem')}`))[0]!['n']).toEqual(expect.anything());
    expect(Number((await q()(`SELECT count(*) AS n FROM ${d.tempTable('t_sem')}`))[0]!['n'])).toBe(2);
    await q()(d.dropTempTable('t_sem'));
  });
}

describe('DuckDB dialect on DuckDB', () => {
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
  });
  afterAll(() => {
    conn?.closeSync();
    inst?.closeSync();
  });
  checks(duckdbDialect, () => async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);

  it('negative control: DuckDB integer // truncates, so floorDiv cannot be spelled with it', async () => {
    expect(Number((await conn.runAndReadAll('SELECT CAST(-7 AS BIGINT) // 2 AS v')).getRowObjectsJS()[0]!['v'])).toBe(-3);
  });
});

describe.skipIf(noPg)('PostgreSQL dialect on PostgreSQL 15', () => {
  let cluster: PgCluster;
  let client: pg.Client;
  beforeAll(async () => {
    cluster = await startPostgres();
    client = await cluster.admin();
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await cluster?.stop();
  });
  checks(postgresDialect, () => async (sql) => (await client.query(sql)).rows as Record<string, unknown>[]);

  it('negative controls: the DuckDB spellings are wrong or invalid here', async () => {
    // Integer / truncates toward zero in PostgreSQL: naive division would put day −1 in bin 0.
    expect(Number((await client.query('SELECT CAST(-7 AS BIGINT) / 2 AS v')).rows[0].v)).toBe(-3);
    await expect(client.query(`SELECT CAST(1 AS DOUBLE) AS v`)).rejects.toThrow(/double/);
    await expect(client.query(`SELECT * FROM range(3)`)).rejects.toThrow(/range/);
    // round() of a double rounds halves to even here, and a double → NUMERIC cast keeps 15 digits.
    expect((await client.query('SELECT round(2.5::float8) AS a, round(0.5::float8) AS b')).rows[0]).toEqual({ a: 2, b: 0 });
    expect((await client.query('SELECT CAST(CAST(9007199254740993 AS float8) AS NUMERIC)::text AS v')).rows[0].v).toBe('9007199254740990');
    // A plain text cast of a double is not DuckDB's text.
    expect((await client.query('SELECT CAST(30::float8 AS TEXT) AS a, CAST(1e15::float8 AS TEXT) AS b')).rows[0]).toEqual({ a: '30', b: '1e+15' });
    // No isfinite for doubles, and NaN equals itself here: `x = x` cannot find a NaN.
    await expect(client.query(`SELECT isfinite(CAST('NaN' AS float8)) AS v`)).rejects.toThrow(/isfinite/);
    expect((await client.query(`SELECT CAST('NaN' AS float8) = CAST('NaN' AS float8) AS v`)).rows[0].v).toBe(true);
  });
});
