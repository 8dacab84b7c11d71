/**
 * Microsoft SQL Server (T-SQL), generation only: no SQL Server agent data source exists yet. It shows that an
 * engine is one file (README.md, "Adding a dialect") and its snapshots pin what the cohort compiler would send.
 * Parameters are `@pN` (mssql/tedious style); TEMP tables are `#name` session tables.
 */
import { checkShapeInteger, filterColumnsHistogram, type SqlDialect, type SqlType } from './dialect.js';

const TYPES: Record<SqlType, string> = { BIGINT: 'BIGINT', INTEGER: 'INT', DOUBLE: 'FLOAT', VARCHAR: 'NVARCHAR(MAX)', DATE: 'DATE', TIMESTAMP: 'DATETIME2', BOOLEAN: 'BIT', HUGEINT: 'DECIMAL(38, 0)' };

/** T-SQL temp tables are named `#name`, not declared TEMP. */
const tempName = (name: string): string => `[#${name.replace(/]/g, ']]')}]`;

export const sqlServerDialect: SqlDialect = {
  name: 'sqlserver',
  placeholder: (n) => `@p${n}`,
  typeName: (t) => TYPES[t],
  cast: (expr, t) => `CAST(${expr} AS ${TYPES[t]})`,
  quoteIdent: (name) => `[${name.replace(/]/g, ']]')}]`,
  addDays: (d, days) => `DATEADD(day, ${days}, ${d})`,
  daysBetween: (a, b) => `DATEDIFF(day, ${a}, ${b})`,
  year: (d) => `YEAR(${d})`,
  makeDate: (y, m, d) => `DATEFROMPARTS(${y}, ${m}, ${d})`,
  floorDiv: (a, b) => `CAST(FLOOR(CAST((${a}) AS FLOAT) / (${b})) AS BIGINT)`,
  integerSeries: (n, alias, column) => {
    const len = checkShapeInteger(n, 'series length');
    return `(SELECT TOP (${len}) CAST(ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) - 1 AS INT) AS ${column} FROM sys.all_objects) AS ${alias}`;
  },
  stringAgg: (expr, sep, orderBy) => `STRING_AGG(CAST(${expr} AS NVARCHAR(MAX)), N'${sep.replace(/'/g, "''")}') WITHIN GROUP (ORDER BY ${orderBy})`,
  histogram: (binExpr, bins) => {
    // T-SQL has no FILTER clause: SUM(CASE …) per bin.
    const h = filterColumnsHistogram(binExpr, bins);
    return { select: (alias) => Array.from({ length: bins }, (_, j) => `SUM(CASE WHEN ${binExpr} = ${j} THEN 1 ELSE 0 END) AS ${alias}_${j}`), read: h.read };
  },
  keyedHash: (salt, keys) => `CONVERT(VARCHAR(32), HASHBYTES('MD5', CONCAT_WS('|', ${[salt, ...keys.map((k) => `CAST(${k} AS NVARCHAR(MAX))`)].join(', ')})), 2)`,
  // FLOAT holds no infinities or NaN in SQL Server: every non-NULL value is finite.
  isFinite: (x) => `((${x}) = (${x}))`,
  toDouble: (x) => `CAST(${x} AS FLOAT)`,
  // T-SQL ROUND rounds halves away from zero.
  roundToInteger: (x) => `CAST(ROUND(${x}, 0) AS DECIMAL(38, 0))`,
  jsonTextArray: (xs) => `(SELECT ${xs.map((x, i) => `CAST(${x} AS NVARCHAR(MAX)) AS [${i}]`).join(', ')} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)`,
  fence: (q) => q,
  binaryOrder: (x) => `((${x}) COLLATE Latin1_General_BIN2)`,
  tempTable: tempName,
  createTempTableAs: (name, query) => [`DROP TABLE IF EXISTS ${tempName(name)}`, `SELECT * INTO ${tempName(name)} FROM (\n${query}\n) AS src`],
  dropTempTable: (name) => `DROP TABLE IF EXISTS ${tempName(name)}`,
  indexTempTable: (name, column) => [`CREATE INDEX [${`${name}_${column}_i`.replace(/]/g, ']]')}] ON ${tempName(name)} ([${column.replace(/]/g, ']]')}])`],
  tableColumnsSql: () =>
    `SELECT CASE WHEN TABLE_CATALOG = 'tempdb' THEN 'temp' ELSE TABLE_SCHEMA END AS table_catalog, TABLE_NAME AS table_name,
            COLUMN_NAME AS column_name, upper(DATA_TYPE) AS data_type
       FROM INFORMATION_SCHEMA.COLUMNS WHERE lower(TABLE_NAME) = lower(@p1) AND TABLE_SCHEMA = SCHEMA_NAME()
      ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  visibleTablesSql: () =>
    `SELECT DISTINCT lower(TABLE_NAME) AS name FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = SCHEMA_NAME()`,
};
