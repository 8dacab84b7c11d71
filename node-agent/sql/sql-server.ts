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
  // The first token outside comments: a WITH opens a CTE list, a parenthesis a parenthesised body.
  let first: string | undefined;
  let depth = 0;
  for (let i = 0; i < q.length; i++) {
    const ch = q[i]!;
    if (ch === "'" || ch === '"' || ch === '[') {
      first ??= ch;
      const close = ch === '[' ? ']' : ch;
      for (i++; i < q.length; i++) {
        if (q[i] === close) {
          if (q[i + 1] === close) i++;
          else break;
        }
      }
    } else if (ch === '-' && q[i + 1] === '-') {
      while (i < q.length && q[i] !== '\n') i++;
    } else if (ch === '/' && q[i + 1] === '*') {
      // T-SQL block comments nest.
      let nest = 1;
      for (i += 2; i < q.length && nest > 0; i++) {
        if (q[i] === '/' && q[i + 1] === '*') {
          nest++;
          i++;
        } else if (q[i] === '*' && q[i + 1] === '/') {
          nest--;
          i++;
        }
      }
      i--;
    } else if (ch === '(') {
      first ??= ch;
      depth++;
    } else if (ch === ')') {
      if (--depth < 0) throw new RangeError('splitQuery: unbalanced parentheses');
    }
    else if (/[A-Za-z_]/.test(ch) && (i === 0 || !/[A-Za-z0-9_$#@]/.test(q[i - 1]!))) {
      // A whole word: `order_id` or a CTE named `select_1` is not a keyword.
      const word = /^[A-Za-z_][A-Za-z0-9_$#@]*/.exec(q.slice(i))![0];
      const upper = word.toUpperCase();
      first ??= upper;
      if (depth === 0 && (upper === 'SELECT' || upper === 'ORDER')) tops.push({ at: i, word: upper });
      i += word.length - 1;
    }
  }
  if (depth !== 0) throw new RangeError('splitQuery: unbalanced parentheses');
  const isWith = first === 'WITH';
  const firstSelect = tops.find((t) => t.word === 'SELECT');
  // A body that opens with a parenthesis ((SELECT …) UNION ALL (SELECT …)) has no top-level SELECT, and no CTEs.
  if (!firstSelect && (isWith || first !== '(')) throw new RangeError('splitQuery: no SELECT at the top level');
  const bodyAt = isWith ? firstSelect!.at : 0;
  const lastOrder = [...tops].reverse().find((t) => t.word === 'ORDER' && t.at > bodyAt && /^ORDER\s+BY\b/i.test(q.slice(t.at)));
  const ctes = isWith ? q.slice(0, bodyAt).trimEnd() : '';
  const body = q.slice(bodyAt, lastOrder?.at ?? q.length).trimEnd();
  const orderBy = lastOrder ? q.slice(lastOrder.at).replace(/^ORDER\s+BY\s+/i, '').trim() : '';
  return { ctes, body, orderBy };
}

/** `prefix FROM (body) AS alias`, with the query's CTEs before and its ORDER BY after (see splitQuery). */
function wrap(prefix: string, query: string, alias: string): string {
  const { ctes, body, orderBy } = splitQuery(query);
  return `${ctes ? `${ctes}\n` : ''}${prefix} FROM (\n${body}\n) AS ${alias}${orderBy ? `\nORDER BY ${orderBy}` : ''}`;
}

/**
 * MD5 of a text's UTF-8 bytes in lower-case hex, as DuckDB and PostgreSQL give it: HASHBYTES hashes an NVARCHAR's
 * UTF-16 bytes, so the text is converted to VARCHAR under a UTF-8 collation (SQL Server 2019+) first, and CONVERT
 * style 2 prints upper-case hex.
 */
const md5Utf8 = (x: string): string => `LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', CONVERT(VARCHAR(MAX), CAST(${x} AS NVARCHAR(MAX)) COLLATE Latin1_General_100_BIN2_UTF8)), 2))`;

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
  keyedHash: (salt, keys) => md5Utf8(`CONCAT_WS('|', ${[salt, ...keys.map((k) => `CAST(${k} AS NVARCHAR(MAX))`)].join(', ')})`),
  // `+` on NVARCHAR is NULL when a part is NULL (CONCAT would make it empty).
  concat: (parts) => `(${parts.map((x) => `CAST(${x} AS NVARCHAR(MAX))`).join(' + ')})`,
  md5Hex: (x) => md5Utf8(x),
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
