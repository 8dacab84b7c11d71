/**
 * PostgreSQL (tested on 15): an OHDSI site's CDM server. The agent's role is read-only on the CDM (checked at
 * start, see data/source/postgres-source.ts), so working tables are TEMP tables, which live in the session's own
 * schema and vanish with it; each is ANALYZEd after it is filled because PostgreSQL has no statistics for a fresh
 * temp table and otherwise plans the joins that read it as if it had a few hundred rows.
 */
import { checkShapeInteger, doubleQuoteIdent, filterColumnsHistogram, POSTGRES_FAMILY, type SqlDialect, type SqlType } from './dialect.js';

const TYPES: Record<SqlType, string> = { BIGINT: 'BIGINT', INTEGER: 'INTEGER', DOUBLE: 'DOUBLE PRECISION', VARCHAR: 'TEXT', DATE: 'DATE', TIMESTAMP: 'TIMESTAMP', BOOLEAN: 'BOOLEAN', HUGEINT: 'NUMERIC' };

/**
 * A DOUBLE as DuckDB prints it: integral values end in `.0` (PostgreSQL prints `30`); both use exponent form from
 * 1e16 and below 1e-4. PostgreSQL switches to exponent form at 1e15 already: integral values up to 1e16 are printed
 * through BIGINT, and −0 (`-0` here, `-0.0` in DuckDB) by name; non-integral values of 1e15 or more still differ —
 * not values an OMOP column holds.
 */
function duckdbDoubleText(x: string): string {
  const v = `CAST(${x} AS DOUBLE PRECISION)`;
  return `CASE WHEN ${v} = 0 AND CAST(${v} AS TEXT) = '-0' THEN '-0.0' WHEN ${v} = trunc(${v}) AND abs(${v}) < 1e16 THEN CAST(CAST(${v} AS BIGINT) AS TEXT) || '.0' ELSE CAST(${v} AS TEXT) END`;
}

const pgTemp = (name: string): string => `pg_temp.${doubleQuoteIdent(name)}`;

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  placeholder: (n) => `$${n}`,
  typeName: (t) => TYPES[t],
  cast: (expr, t) => `CAST(${expr} AS ${TYPES[t]})`,
  quoteIdent: doubleQuoteIdent,
  // date + integer → date in PostgreSQL too; the cast keeps a BIGINT argument from picking no operator.
  addDays: (d, days) => `(${d} + CAST(${days} AS INTEGER))`,
  // date − date → integer days.
  daysBetween: (a, b) => `(${b} - ${a})`,
  year: (d) => `CAST(EXTRACT(YEAR FROM ${d}) AS INTEGER)`,
  makeDate: (y, m, d) => `make_date(${y}, ${m}, ${d})`,
  // Integer / truncates toward zero in PostgreSQL: floor it explicitly (numeric keeps it exact).
  floorDiv: (a, b) => `CAST(floor(CAST((${a}) AS NUMERIC) / (${b})) AS BIGINT)`,
  integerSeries: (n, alias, column) => {
    const len = checkShapeInteger(n, 'series length');
    return `(SELECT CAST(g AS INTEGER) AS ${column} FROM generate_series(0, ${len - 1}) AS g) AS ${alias}`;
  },
  stringAgg: (expr, sep, orderBy) => `string_agg(CAST(${expr} AS TEXT), '${sep.replace(/'/g, "''")}' ORDER BY ${orderBy})`,
  // No histogram aggregate (and the read-only role cannot create one): one FILTER count per public bin.
  histogram: filterColumnsHistogram,
  keyedHash: (salt, keys, types) => `md5(concat_ws('|', ${[salt, ...keys.map((k, i) => (types?.[i] === 'DOUBLE' ? duckdbDoubleText(k) : `CAST(${k} AS TEXT)`))].join(', ')}))`,
  isFinite: (x) => `((${x}) <> CAST('Infinity' AS DOUBLE PRECISION) AND (${x}) <> CAST('-Infinity' AS DOUBLE PRECISION) AND (${x}) <> CAST('NaN' AS DOUBLE PRECISION))`,
  // The literal is NUMERIC, so a NUMERIC value is compared exactly; NaN and ±Infinity fall outside (and are NULL).
  toDouble: (x) => `CASE WHEN abs(${x}) <= 1.7976931348623157e308 THEN CAST(${x} AS DOUBLE PRECISION) END`,
  // rint() rounds halves to even: round half away from zero by hand. x − trunc(x) is exact for every double.
  roundToInteger: (x) => `CAST(trunc(${x}) + CASE WHEN abs((${x}) - trunc(${x})) >= 0.5 THEN sign(${x}) ELSE 0 END AS BIGINT)`,
  // to_json of an ARRAY prints no spaces (json_build_array would).
  jsonTextArray: (xs) => `CAST(to_json(ARRAY[${xs.map((x) => `CAST(${x} AS TEXT)`).join(', ')}]::TEXT[]) AS TEXT)`,
  fence: (q) => `${q} OFFSET 0`,
  ...POSTGRES_FAMILY,
  // Parenthesised: a BETWEEN bound (a b_expr in the grammar) takes no bare COLLATE.
  binaryOrder: (x) => `((${x}) COLLATE "C")`,
  // Qualified by pg_temp: an unqualified DROP of a TEMP table the session does not (yet) have would find a table of
  // that name in the CDM schema instead, and drop it if the agent's role owns it (red team 17, F4).
  tempTable: pgTemp,
  createTempTableAs: (name, query) => {
    const t = pgTemp(name);
    return [`DROP TABLE IF EXISTS ${t}`, `CREATE TEMP TABLE ${t} AS\n${query}`, `ANALYZE ${t}`];
  },
  dropTempTable: (name) => `DROP TABLE IF EXISTS ${pgTemp(name)}`,
  // An index takes no schema: it lands in the table's (pg_temp).
  indexTempTable: (name, column) => [`CREATE INDEX ${doubleQuoteIdent(`${name}_${column}_i`)} ON ${pgTemp(name)} (${doubleQuoteIdent(column)})`, `ANALYZE ${pgTemp(name)}`],
  // pg_catalog rather than information_schema: it also lists the session's TEMP tables and is much faster.
  tableColumnsSql: () =>
    `SELECT CASE WHEN n.oid = pg_my_temp_schema() THEN 'temp' ELSE n.nspname END AS table_catalog,
            c.relname AS table_name, a.attname AS column_name,
            CASE WHEN t.ty IN ('double precision', 'real') THEN 'DOUBLE'
                 WHEN t.ty = 'text' OR t.ty LIKE 'character%' THEN 'VARCHAR'
                 WHEN t.ty LIKE 'timestamp%' THEN 'TIMESTAMP'
                 ELSE upper(t.ty) END AS data_type
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       CROSS JOIN LATERAL (SELECT format_type(a.atttypid, NULL) AS ty) t
      WHERE lower(c.relname) = lower($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND (n.oid = pg_my_temp_schema() OR (n.nspname = ANY (current_schemas(false)) AND n.nspname <> 'pg_catalog'))
      ORDER BY (n.oid = pg_my_temp_schema()) DESC, array_position(current_schemas(false), n.nspname), c.relname, a.attnum`,
  visibleTablesSql: () =>
    // The search path is pg_catalog, the CDM schema, then the vocabulary schema (pinned per connection by the data
    // source, data/source/session-settings.ts); the system catalogue is not data.
    `SELECT DISTINCT lower(table_name) AS name FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false)) AND table_schema <> 'pg_catalog'`,
};
