/**
 * The contingency counts compiled through the dialect layer, on the real engines: DuckDB in memory and a throw-away
 * PostgreSQL 15 (skipped with a message when the server binaries are absent). Expected counts are worked out by
 * hand from the fixture below (see the comments on its rows), and on DuckDB also checked against the agent's own
 * DuckDB-only contingency function. Negative controls: counting rows instead of persons, or dropping the
 * ambiguity rule, gives a different table; values of the wrong type are refused naming the field.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../../test/helpers/postgres.js';
import { contingencyCounts } from '../analytics/contingency.js';
import { compileContingencyCounts, readContingencyCounts, type ContingencyQueryInput } from './contingency-counts.js';
import { duckdbDialect, postgresDialect, type SqlDialect } from './index.js';

const noPg = skipWithoutPostgres('contingency counts on PostgreSQL');

const FIXTURE: readonly string[] = [
  "(1, 'F', 30.0, true)", // p1: (F, 30) …
  "(1, 'F', 30.0, true)", // … twice: still one person
  "(2, 'M', 40.0, true)", // p2: (M, 40)
  "(3, 'F', 40.0, true)", // p3: two places → ambiguous
  "(3, 'M', 30.0, true)",
  "(4, 'X', 30.0, true)", // p4: X is not a public level → outside
  "(5, 'M', 40.0, false)", // p5: filtered out by flag = true
  "(NULL, 'F', 30.0, true)", // no person: never counted
];
const CREATE = (d: SqlDialect) => `CREATE TEMP TABLE ct (person_id BIGINT, sex ${d.typeName('VARCHAR')}, age ${d.typeName('DOUBLE')}, flag BOOLEAN)`;
const INSERT = `INSERT INTO ct VALUES ${FIXTURE.join(', ')}`;

const INPUT: ContingencyQueryInput = {
  table: 'ct',
  person: { name: 'person_id', type: 'BIGINT' },
  row: { name: 'sex', type: 'VARCHAR' },
  col: { name: 'age', type: 'DOUBLE' },
  rowLevels: ['F', 'M'],
  colLevels: [30, 40],
  where: [{ column: { name: 'flag', type: 'BOOLEAN' }, op: '=', value: true }],
};
const EXPECTED = { counts: [[1n, 0n], [0n, 1n]], outside: 1n, ambiguous: 1n };

type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

function checks(d: SqlDialect, q: () => Query): void {
  const counts = async (input: ContingencyQueryInput) => {
    const c = compileContingencyCounts(d, input);
    return readContingencyCounts(await q()(c.sql, c.params), input.rowLevels.length, input.colLevels.length);
  };

  it('counts persons per cell, outside and ambiguous as worked out by hand', async () => {
    expect(await counts(INPUT)).toEqual(EXPECTED);
  });

  it('every filter operator compiles and runs (between, in, is not null, !=)', async () => {
    const age = { name: 'age', type: 'DOUBLE' } as const;
    const t = await counts({ ...INPUT, where: [{ column: age, op: 'between', value: [35, 45] }, { column: { name: 'sex', type: 'VARCHAR' }, op: 'in', value: ['M', 'F'] }, { column: age, op: 'is not null' }, { column: { name: 'sex', type: 'VARCHAR' }, op: '!=', value: 'X' }] });
    // Rows left: p2 (M, 40), p3 (F, 40), p5 (M, 40): three persons, one place each.
    expect(t).toEqual({ counts: [[0n, 1n], [0n, 2n]], outside: 0n, ambiguous: 0n });
  });

  it('negative controls: counting rows, or dropping the ambiguity rule, gives another table', async () => {
    const rowsInCell = await q()('SELECT count(*) AS n FROM ct WHERE sex = \'F\' AND age = 30 AND flag');
    expect(Number(rowsInCell[0]!['n'])).not.toBe(Number(EXPECTED.counts[0]![0])); // 3 rows (one without a person) vs 1 person
    const naive = await q()("SELECT count(DISTINCT person_id) AS n FROM ct WHERE sex = 'F' AND age = 40 AND flag");
    expect(Number(naive[0]!['n'])).not.toBe(Number(EXPECTED.counts[0]![1])); // p3 would count in (F, 40)
  });

  it('a BOOLEAN column takes "true" / "false" as the DuckDB step does (no staged copy needed); "yes" is refused', async () => {
    const flag = { name: 'flag', type: 'BOOLEAN' } as const;
    const asStrings = await counts({ ...INPUT, col: flag, colLevels: ['true', 'false'], where: [] });
    const asJson = await counts({ ...INPUT, col: flag, colLevels: [true, false], where: [] });
    expect(asStrings).toEqual(asJson);
    expect(asStrings.counts.flat().reduce((a, b) => a + b, 0n)).toBeGreaterThan(0n);
    expect(() => compileContingencyCounts(d, { ...INPUT, col: flag, colLevels: ['yes', 'no'] })).toThrow(/colLevels\[0\]/);
  });

  it('refuses a level of the wrong type naming the field, before any SQL runs', () => {
    expect(() => compileContingencyCounts(d, { ...INPUT, colLevels: [30, '40'] })).toThrow(/colLevels\[1\]/);
    expect(() => compileContingencyCounts(d, { ...INPUT, rowLevels: [] })).toThrow(/rowLevels/);
  });
}

describe('contingency counts on DuckDB', () => {
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    await conn.run(CREATE(duckdbDialect));
    await conn.run(INSERT);
  });
  afterAll(() => {
    conn?.closeSync();
    inst?.closeSync();
  });
  checks(duckdbDialect, () => async (sql, params) => (await conn.runAndReadAll(sql, params as never)).getRowObjectsJS() as Record<string, unknown>[]);

  it('equals the agent DuckDB contingency function on the same data', async () => {
    const ref = await contingencyCounts(conn, { table: 'ct', rowColumn: 'sex', colColumn: 'age', rowLevels: ['F', 'M'], colLevels: [30, 40], where: [{ column: 'flag', op: '=', value: true }], personColumn: 'person_id' });
    expect({ counts: ref.counts, outside: ref.outside, ambiguous: ref.ambiguous }).toEqual(EXPECTED);
  });
});

describe.skipIf(noPg)('contingency counts on PostgreSQL 15', () => {
  let cluster: PgCluster;
  let client: pg.Client;
  beforeAll(async () => {
    cluster = await startPostgres();
    client = await cluster.admin();
    await client.query(CREATE(postgresDialect));
    await client.query(INSERT);
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await cluster?.stop();
  });
  checks(postgresDialect, () => async (sql, params) => (await client.query(sql, params)).rows as Record<string, unknown>[]);
});
