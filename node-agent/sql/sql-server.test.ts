/**
 * The T-SQL dialect wraps queries in statements (`SELECT … INTO #t`, `TOP (n)`) that allow neither a CTE nor an
 * ORDER BY inside a derived table: splitQuery moves them out, at depth 0 only (not inside parentheses, quotes or
 * brackets). No SQL Server runs here; these check the text.
 */
import { describe, expect, it } from 'vitest';
import { splitQuery, sqlServerDialect as d } from './sql-server.js';

describe('T-SQL query splitting', () => {
  it('splits a CTE list, its body and the final ORDER BY; ORDER BY inside windows and subqueries stays', () => {
    const q = `WITH a AS (SELECT x, row_number() OVER (ORDER BY x) AS r FROM t), b AS (SELECT * FROM a ORDER BY r OFFSET 0 ROWS)
SELECT x FROM b UNION ALL SELECT 'order by (' FROM c
ORDER BY x`;
    expect(splitQuery(q)).toEqual({
      ctes: 'WITH a AS (SELECT x, row_number() OVER (ORDER BY x) AS r FROM t), b AS (SELECT * FROM a ORDER BY r OFFSET 0 ROWS)',
      body: "SELECT x FROM b UNION ALL SELECT 'order by (' FROM c",
      orderBy: 'x',
    });
    expect(splitQuery('SELECT [select], "order" FROM t')).toEqual({ ctes: '', body: 'SELECT [select], "order" FROM t', orderBy: '' });
    expect(() => splitQuery('WITH a AS (SELECT 1)')).toThrow(/no SELECT/);
  });

  it('SELECT INTO and TOP put the CTEs first and the ORDER BY last', () => {
    const q = 'WITH w AS (SELECT k FROM s)\nSELECT k FROM w\nORDER BY k';
    expect(d.createTempTableAs('t', q)).toEqual(['DROP TABLE IF EXISTS [#t]', 'WITH w AS (SELECT k FROM s)\nSELECT * INTO [#t] FROM (\nSELECT k FROM w\n) AS src\nORDER BY k']);
    expect(d.limit(q, 5)).toBe('WITH w AS (SELECT k FROM s)\nSELECT TOP (5) * FROM (\nSELECT k FROM w\n) AS lim\nORDER BY k');
    // Negative control: the naive wrapping (what this dialect emitted before) has the CTE inside the derived table.
    expect(`SELECT * INTO [#t] FROM (\n${q}\n) AS src`).toMatch(/FROM \(\nWITH/);
  });

  it('booleans are BIT values compared with 1', () => {
    expect(d.boolValue('a > b')).toBe('CAST(CASE WHEN a > b THEN 1 ELSE 0 END AS BIT)');
    expect(d.isTrue('ok')).toBe('((ok) = 1)');
  });
});

describe('T-SQL query splitting on hostile shapes (red team 24)', () => {
  it('identifiers that start with a keyword, comments and parenthesised bodies', () => {
    expect(d.limit('SELECT order_id, x FROM t', 5)).toBe('SELECT TOP (5) * FROM (\nSELECT order_id, x FROM t\n) AS lim');
    expect(splitQuery('WITH select_1 AS (SELECT 1 AS a) SELECT a FROM select_1')).toEqual({ ctes: 'WITH select_1 AS (SELECT 1 AS a)', body: 'SELECT a FROM select_1', orderBy: '' });
    expect(splitQuery("SELECT a -- don't ( order by\nFROM t /* ( */ ORDER BY a")).toEqual({ ctes: '', body: "SELECT a -- don't ( order by\nFROM t /* ( */", orderBy: 'a' });
    expect(splitQuery('(SELECT 1 AS a) UNION ALL (SELECT 2) ORDER BY a')).toEqual({ ctes: '', body: '(SELECT 1 AS a) UNION ALL (SELECT 2)', orderBy: 'a' });
    expect(() => splitQuery('SELECT (a FROM t')).toThrow(/unbalanced/);
  });

  it('tempTableStatements binds the parameters to the statement that carries the query, however the dialect rewrote it', async () => {
    const { tempTableStatements, duckdbDialect, postgresDialect } = await import('./index.js');
    const q = 'WITH w AS (SELECT k FROM s WHERE k > @p1)\nSELECT k FROM w\nORDER BY k';
    expect(tempTableStatements(d, 't', q, [7])).toEqual([{ sql: 'DROP TABLE IF EXISTS [#t]', params: [] }, { sql: d.createTempTableAs('t', q)[1], params: [7] }]);
    expect(tempTableStatements(postgresDialect, 't', 'SELECT $1 AS a', [1]).map((s) => s.params)).toEqual([[], [1], []]);
    expect(tempTableStatements(duckdbDialect, 't', 'SELECT $1 AS a', [1]).map((s) => s.params)).toEqual([[1]]);
    // Negative control: the search by text the builders used before misses the rewritten T-SQL statement.
    expect(d.createTempTableAs('t', q).some((s) => s.includes(q))).toBe(false);
  });
});

describe('T-SQL query splitting: comments and parentheses (red team 25)', () => {
  it('a comment before WITH, nested block comments, and a stray closing parenthesis', () => {
    expect(splitQuery('-- c\nWITH a AS (SELECT 1 AS x) SELECT x FROM a')).toEqual({ ctes: '-- c\nWITH a AS (SELECT 1 AS x)', body: 'SELECT x FROM a', orderBy: '' });
    expect(splitQuery('SELECT a /* x /* ORDER BY b */ still comment */ FROM t ORDER BY a')).toEqual({ ctes: '', body: 'SELECT a /* x /* ORDER BY b */ still comment */ FROM t', orderBy: 'a' });
    expect(() => splitQuery('SELECT a FROM t) AS z (')).toThrow(/unbalanced/);
  });
});
