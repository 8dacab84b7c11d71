/**
 * Microsoft SQL Server (T-SQL), generation only: no SQL Server agent data source exists yet. It shows that an
 * engine is one file (README.md, "Adding a dialect") and its snapshots pin what the cohort compiler would send.
 * Parameters are `@pN` (mssql/tedious style); TEMP tables are `#name` session tables.
 */
import { checkShapeInteger, filterColumnsHistogram, type SqlDialect, type SqlType } from './dialect.js';

const TYPES: Record<SqlType, string> = { BIGINT: 'BIGINT', INTEGER: 'INT', DOUBLE: 'FLOAT', VARCHAR: 'NVARCHAR(MAX)', DATE: 'DATE', TIMESTAMP: 'DATETIME2', BOOLEAN: 'BIT', HUGEINT: 'DECIMAL(38, 0)' };

/**
 * A query split at depth 0 (outside parentheses, quotes and brackets) into its CTE list (`WITH a AS (…), …`, or ''),
 * its body and its final ORDER BY list (or ''). T-SQL allows neither a CTE nor an ORDER BY inside a derived table,
 * so a statement that wraps a query (`SELECT … INTO`, `TOP`) puts the CTEs before it and the ORDER BY after it,
 * where the order's output-column names still resolve.
 */
export function splitQuery(query: string): { ctes: string; body: string; orderBy: string } {
  const q = query.trim();
  const tops: { at: number; word: string }[] = [];
  let depth = 0;
  for (let i = 0; i < q.length; i++) {
    const ch = q[i]!;
    if (ch === "'" || ch === '"' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      for (i++; i < q.length; i++) {
        if (q[i] === close) {
          if (q[i + 1] === close) i++;
          else break;
        }
      }
    } else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && /[A-Za-z]/.test(ch) && (i === 0 || !/[A-Za-z0-9_]/.test(q[i - 1]!))) {
      const word = /^[A-Za-z]+/.exec(q.slice(i))![0].toUpperCase();
      if (word === 'SELECT' || word === 'ORDER' || word === 'WITH') tops.push({ at: i, word });
      i += word.length - 1;
    }
  }
  const firstSelect = tops.find((t) => t.word === 'SELECT');
  if (!firstSelect) throw new RangeError('splitQuery: no SELECT at the top level');
  const ctes = /^WITH\b/i.test(q) ? q.slice(0, firstSelect.at).trimEnd() : '';
  const lastOrder = [...tops].reverse().find((t) => t.word === 'ORDER' && t.at > firstSelect.at);
  const body = q.slice(firstSelect.at, lastOrder?.at ?? q.length).trimEnd();
  const orderBy = lastOrder ? q.slice(lastOrder.at).replace(/^ORDER\s+BY\s+/i, '').trim() : '';
  return { ctes, body, orderBy };
}

/** `prefix FROM (body) AS alias`, with the query's CTEs before and its ORDER BY after (see splitQuery). */
function wrap(prefix: string, query: string, alias: string): string {
  const { ctes, body, orderBy } = splitQuery(query);
  return `${ctes ? `${ctes}\n` : ''}${prefix} FROM (\n${body}\n) AS ${alias}${orderBy ? `\nORDER BY ${orderBy}` : ''}`;
}

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
  materializedCte: (name, q) => `${name} AS (\n${q}\n)`,
  // T-SQL has no boolean values: a BIT, compared with 1 where a condition is needed.
  boolValue: (cond) => `CAST(CASE WHEN ${cond} THEN 1 ELSE 0 END AS BIT)`,
  isTrue: (b) => `((${b}) = 1)`,
  limit: (q, n) => wrap(`SELECT TOP (${checkShapeInteger(n, 'row limit')}) *`, q, 'lim'),
  binaryOrder: (x) => `((${x}) COLLATE Latin1_General_BIN2)`,
  tempTable: tempName,
  createTempTableAs: (name, query) => [`DROP TABLE IF EXISTS ${tempName(name)}`, wrap(`SELECT * INTO ${tempName(name)}`, query, 'src')],
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
