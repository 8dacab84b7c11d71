/**
 * DuckDB, the agent's embedded default: the reference dialect, whose text the builders produced before the dialect
 * layer existed (the cohort and aggregate snapshots did not change when they moved here).
 */
import { checkShapeInteger, doubleQuoteIdent, POSTGRES_FAMILY, type SqlDialect, type SqlType } from './dialect.js';

const TYPES: Record<SqlType, string> = { BIGINT: 'BIGINT', INTEGER: 'INTEGER', DOUBLE: 'DOUBLE', VARCHAR: 'VARCHAR', DATE: 'DATE', TIMESTAMP: 'TIMESTAMP', BOOLEAN: 'BOOLEAN', HUGEINT: 'HUGEINT' };

export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  placeholder: (n) => `$${n}`,
  typeName: (t) => TYPES[t],
  cast: (expr, t) => `CAST(${expr} AS ${TYPES[t]})`,
  quoteIdent: doubleQuoteIdent,
  // DATE + INTEGER stays a DATE in DuckDB; DATE + INTERVAL would become a TIMESTAMP.
  addDays: (d, days) => `(${d} + CAST(${days} AS INTEGER))`,
  daysBetween: (a, b) => `date_diff('day', ${a}, ${b})`,
  year: (d) => `year(${d})`,
  makeDate: (y, m, d) => `make_date(${y}, ${m}, ${d})`,
  // DuckDB's // truncates toward zero (−7 // 2 = −3) and / is a DOUBLE division: floor that (exact below 2^53).
  floorDiv: (a, b) => `CAST(floor((${a}) / (${b})) AS BIGINT)`,
  integerSeries: (n, alias, column) => `(SELECT CAST(range AS INTEGER) AS ${column} FROM range(${checkShapeInteger(n, 'series length')})) AS ${alias}`,
  stringAgg: (expr, sep, orderBy) => `string_agg(${expr}, '${sep.replace(/'/g, "''")}' ORDER BY ${orderBy})`,
  // One map per group (bin → count): O(rows) whatever the number of bins.
  histogram: (binExpr, bins) => {
    checkShapeInteger(bins, 'bins');
    return {
      select: (alias) => [`histogram(${binExpr}) AS ${alias}`],
      read: (row, alias) => {
        const out = Array.from({ length: bins }, () => 0n);
        const map = row[alias] as { key: unknown; value: unknown }[] | null | undefined;
        for (const e of map ?? []) {
          const b = Number(e.key);
          if (!Number.isInteger(b) || b < 0 || b >= bins) throw new RangeError(`${alias}: bin ${String(e.key)} outside 0..${bins - 1}`);
          out[b] = BigInt(e.value as bigint);
        }
        return out;
      },
    };
  },
  keyedHash: (salt, keys) => `md5(concat_ws('|', ${[salt, ...keys.map((k) => `CAST(${k} AS VARCHAR)`)].join(', ')}))`,
  // DuckDB's round(DOUBLE) is C's round (halves away from zero); a DOUBLE → HUGEINT cast of an integer is exact.
  roundToInteger: (x) => `CAST(round(${x}) AS HUGEINT)`,
  isFinite: (x) => `isfinite(${x})`,
  toDouble: (x) => `CAST(${x} AS DOUBLE)`,
  jsonTextArray: (xs) => `CAST(to_json([${xs.join(', ')}]) AS VARCHAR)`,
  fence: (q) => q,
  ...POSTGRES_FAMILY,
  binaryOrder: (x) => x,
  tempTable: doubleQuoteIdent,
  createTempTableAs: (name, query) => [`CREATE OR REPLACE TEMP TABLE ${doubleQuoteIdent(name)} AS\n${query}`],
  dropTempTable: (name) => `DROP TABLE IF EXISTS ${doubleQuoteIdent(name)}`,
  indexTempTable: () => [],
  tableColumnsSql: () =>
    `SELECT table_catalog, table_name, column_name, data_type
       FROM information_schema.columns
      WHERE table_schema = current_schema()
        AND table_catalog IN ('temp', current_database())
        AND lower(table_name) = lower($1)
      ORDER BY (table_catalog = 'temp') DESC, table_name, ordinal_position`,
  visibleTablesSql: () =>
    `SELECT DISTINCT lower(table_name) AS name FROM information_schema.tables WHERE table_schema = current_schema()`,
};
