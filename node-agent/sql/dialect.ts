/**
 * The one place where SQL differs between database engines. Query builders (cohorts, aggregates, analytics) write
 * the portable core of a statement themselves (SELECT, JOIN, window functions, CTEs, CASE, aggregates over CASE
 * instead of FILTER, `1 = 1` instead of TRUE, grouping by expressions, not ordinals) and ask the dialect for every
 * construct whose spelling or meaning differs: types, date arithmetic, integer division, histograms, string
 * aggregation, the keyed hash behind contribution bounding, boolean values, row limits, temp tables and the
 * catalogue. test/unit/sql-portability.test.ts keeps the builders to that core. A new engine is one new
 * file implementing this interface (see README.md, "Adding a dialect"); no builder changes.
 *
 * Every method returns SQL text built only from its arguments, which are SQL expressions the builder composed from
 * its own constants, validated integers and bound-parameter placeholders (never from outside strings).
 */

/**
 * The logical column types builders use; each dialect spells them. `HUGEINT` is an exact integer wide enough for
 * sums of many grid-scaled values (DuckDB HUGEINT, PostgreSQL NUMERIC): never a float.
 */
export type SqlType = 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'VARCHAR' | 'DATE' | 'TIMESTAMP' | 'BOOLEAN' | 'HUGEINT';
/** The types a product column can have (HUGEINT is only ever computed). */
export const SQL_TYPES: readonly SqlType[] = ['BIGINT', 'INTEGER', 'DOUBLE', 'VARCHAR', 'DATE', 'TIMESTAMP', 'BOOLEAN'];

export interface SqlDialect {
  /** A stable name (`duckdb`, `postgres`, …) used in logs, snapshots and the catalogue. */
  readonly name: string;
  /** The n-th (1-based) bound-parameter placeholder. */
  placeholder(n: number): string;
  /** The engine's name for a logical type. */
  typeName(t: SqlType): string;
  /** `CAST(expr AS t)`, in this engine's spelling. */
  cast(expr: string, t: SqlType): string;
  /** A quoted identifier (table or column name the agent itself validated). */
  quoteIdent(name: string): string;
  /** `date + days`, still a DATE (never a timestamp). `days` is an integer SQL expression. */
  addDays(dateExpr: string, daysExpr: string): string;
  /** Whole days from `start` to `end` (DATEs): an integer, negative when `end` is earlier. */
  daysBetween(startExpr: string, endExpr: string): string;
  /** The calendar year of a DATE, as an integer. */
  year(dateExpr: string): string;
  /** A DATE from integer year, month, day expressions. */
  makeDate(y: string, m: string, d: string): string;
  /** Integer division rounding toward −∞ (floor), for a ≥ 0 or a < 0, b > 0: bins of days, ages in years. */
  floorDiv(a: string, b: string): string;
  /**
   * A relation (usable after FROM, with alias `alias`) of one integer column `column` holding 0 … n − 1;
   * `n` is a validated non-negative integer.
   */
  integerSeries(n: number, alias: string, column: string): string;
  /** Concatenation of `expr` over a group, separated by `separator` (a literal the builder chose), in `orderBy` order. */
  stringAgg(expr: string, separator: string, orderBy: string): string;
  /**
   * Counts per bin index over a group, for bin indexes 0 … bins − 1 (`binExpr` is NULL for rows not counted). Some
   * engines return a map, some one column per bin: `select(alias)` gives the select-list items and
   * `read(row, alias)` the counts from a result row (as plain objects with lower-case keys).
   */
  histogram(binExpr: string, bins: number): { select(alias: string): string[]; read(row: Record<string, unknown>, alias: string): bigint[] };
  /**
   * A keyed hash of `keyExprs` under the secret `saltExpr` (a bound parameter), as text that orders uniformly: it
   * ranks a privacy unit's rows so that the k counted are not the "first k". Same function on every engine (MD5 of
   * the `|`-joined text forms), so the same rows are kept for integer, text and date keys everywhere. `keyTypes`
   * (parallel to `keyExprs`) lets an engine print a DOUBLE key the way DuckDB does (`30.0`, `0.1`): exact for
   * integral values below 1e16 and other values below 1e15 in magnitude, and in exponent form.
   */
  keyedHash(saltExpr: string, keyExprs: readonly string[], keyTypes?: readonly (SqlType | undefined)[]): string;
  /**
   * A DOUBLE rounded to the nearest integer, halves away from zero (C's `round`), as an exact integer (HUGEINT in
   * DuckDB, BIGINT in PostgreSQL, whose own `round` of a double rounds halves to even and whose double → NUMERIC
   * cast keeps only 15 digits). How values are snapped to the grid of a DP plan: the same integers on every engine.
   */
  roundToInteger(doubleExpr: string): string;
  /**
   * Whether a DOUBLE is finite (not ±Infinity, not NaN); NULL for NULL. DuckDB's `isfinite`; PostgreSQL has no such
   * function for doubles and treats NaN as equal to itself, so it is spelled as three comparisons.
   */
  isFinite(doubleExpr: string): string;
  /**
   * A numeric column as DOUBLE, NULL where its value is beyond the double range (PostgreSQL's NUMERIC holds such
   * values and its cast would fail the whole statement; DuckDB's DECIMAL and SQL Server's cannot hold them).
   */
  toDouble(numericExpr: string): string;
  /** A JSON array text (`["a","b",null]`, no spaces) of text expressions: a cell's label from its key values. */
  jsonTextArray(textExprs: readonly string[]): string;
  /**
   * A subquery the planner must compute once rather than inline into the query around it: computed columns that
   * the outer query reads many times (a bin index in each of a histogram's per-bin counts) would otherwise be
   * recomputed at every reference (PostgreSQL flattens subqueries; `OFFSET 0` stops it).
   */
  fence(query: string): string;
  /**
   * A BOOLEAN value from condition `cond`: true where it holds, false where it is false or NULL. DuckDB and
   * PostgreSQL have boolean values; T-SQL has only BIT, so a column computed from a comparison is spelled here.
   */
  boolValue(cond: string): string;
  /** The condition "`boolExpr` is true", for a value made by `boolValue` (T-SQL compares a BIT with 1). */
  isTrue(boolExpr: string): string;
  /**
   * A CTE `name AS (query)` that the engine computes once (a nested criteria group read by several joins). DuckDB and
   * PostgreSQL take the `MATERIALIZED` hint; engines without one (T-SQL) give a plain CTE, the same rows.
   */
  materializedCte(name: string, query: string): string;
  /** Text concatenation of text expressions, NULL when any part is NULL (the standard `||`). */
  concat(parts: readonly string[]): string;
  /** The MD5 of a text expression's UTF-8 bytes, as 32 lower-case hex digits (DuckDB's and PostgreSQL's `md5`). */
  md5Hex(textExpr: string): string;
  /** At most `n` rows of `query` (any `n` of them: the builder orders where order matters). */
  limit(query: string, n: number): string;
  /** A text expression compared and ordered by its bytes (DuckDB's only order; PostgreSQL's `COLLATE "C"`). */
  binaryOrder(textExpr: string): string;
  /** How statements refer to the TEMP table named `name` (a plain identifier the builder checked). */
  tempTable(name: string): string;
  /**
   * Statements that (re)create TEMP table `name` from a query, then make the planner aware of its size: drops first,
   * then the one statement that carries the query (and so its placeholders), then statements that take no
   * parameters (ANALYZE). Run them with `tempTableStatements`, which binds the query's parameters to that one.
   */
  createTempTableAs(name: string, query: string): string[];
  /** Drops TEMP table `name` if it exists. */
  dropTempTable(name: string): string;
  /**
   * Statements that make range lookups on integer column `column` of TEMP table `name` cheap (a B-tree on a server;
   * none on DuckDB, whose zone maps serve a table written in that column's order).
   */
  indexTempTable(name: string, column: string): string[];
  /** One column `name`: the lower-case names of the tables and views the session resolves unqualified names in. */
  visibleTablesSql(): string;
  /**
   * Rows `(table_catalog, table_name, column_name, data_type)` of the tables whose lower-case name is `lower($1)`,
   * in the order the engine resolves an unqualified name (TEMP first), columns in ordinal order; `table_catalog`
   * is 'temp' for TEMP tables; types in DuckDB's spelling (BIGINT, INTEGER, DOUBLE, VARCHAR, DATE, TIMESTAMP, …).
   */
  tableColumnsSql(): string;
}

/**
 * A positional bound-parameter builder in dialect `d`: appends `v` to `values` and returns its placeholder, cast to
 * `castTo` when that is one of the logical types (other type names, e.g. a column's DECIMAL(10,2), bind uncast).
 */
export function paramBinder(d: SqlDialect, values: { push(v: string | number | boolean): number; readonly length: number }): (v: string | number | boolean, castTo?: string) => string {
  return (v, castTo) => {
    values.push(v);
    const ph = d.placeholder(values.length);
    const t = castTo?.toUpperCase();
    return t && (SQL_TYPES as readonly string[]).includes(t) ? d.cast(ph, t as SqlType) : ph;
  };
}

/**
 * `d.createTempTableAs(name, query)` with the query's `params` bound to the statement that carries the query (the first
 * that is not a DROP) and none to the others. The query's text may be rewritten on the way (T-SQL moves its CTEs and
 * ORDER BY around SELECT … INTO), so the statement is found by its place, not by searching for the query's text.
 */
export function tempTableStatements<P>(d: SqlDialect, name: string, query: string, params: readonly P[] = []): { sql: string; params: P[] }[] {
  const stmts = d.createTempTableAs(name, query);
  const at = stmts.findIndex((s) => !/^\s*DROP\s/i.test(s));
  if (at < 0) throw new RangeError(`${d.name}.createTempTableAs: no statement creates ${name}`);
  return stmts.map((sql, i) => ({ sql, params: i === at ? [...params] : [] }));
}

/** Checks a non-negative safe integer that shapes SQL text (bins, series length). */
export function checkShapeInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${String(n)}`);
  return n;
}

/**
 * The spellings DuckDB and PostgreSQL share for the methods T-SQL spells otherwise: MATERIALIZED CTEs, `||`, `md5`,
 * boolean values, `LIMIT`.
 */
export const POSTGRES_FAMILY: Pick<SqlDialect, 'materializedCte' | 'concat' | 'md5Hex' | 'boolValue' | 'isTrue' | 'limit'> = {
  materializedCte: (name, q) => `${name} AS MATERIALIZED (\n${q}\n)`,
  concat: (parts) => `(${parts.join(' || ')})`,
  md5Hex: (x) => `md5(${x})`,
  boolValue: (cond) => `coalesce(${cond}, false)`,
  isTrue: (b) => `(${b})`,
  limit: (q, n) => `${q}\nLIMIT ${checkShapeInteger(n, 'row limit')}`,
};

/** Standard double-quoted identifiers (both DuckDB and PostgreSQL). */
export function doubleQuoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Counts from `count(*) FILTER (WHERE bin = j)` columns named `<alias>_<j>`: the portable histogram. */
export function filterColumnsHistogram(
  binExpr: string,
  bins: number,
): { select(alias: string): string[]; read(row: Record<string, unknown>, alias: string): bigint[] } {
  checkShapeInteger(bins, 'bins');
  return {
    select: (alias) => Array.from({ length: bins }, (_, j) => `count(*) FILTER (WHERE ${binExpr} = ${j}) AS ${alias}_${j}`),
    read: (row, alias) =>
      Array.from({ length: bins }, (_, j) => {
        const v = row[`${alias}_${j}`];
        return v === null || v === undefined ? 0n : BigInt(v as bigint | number | string);
      }),
  };
}
