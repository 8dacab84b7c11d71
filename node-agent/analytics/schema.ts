/**
 * Identifier resolution for the analytics queries: every table and column name that reaches SQL text is first
 * looked up in the database's own catalog (information_schema, names bound as parameters) and then quoted. A
 * caller's string is never copied into SQL unless the catalog knows it; values always travel as parameters.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError, invalidJob } from '../../common/errors.js';
import { asSession } from '../cohort/run.js';
import type { SqlSession } from '../data/source/source.js';

/** What the analytics run on: a data-source session (DuckDB or PostgreSQL) or a bare DuckDB connection. */
export type AnalyticsDb = DuckDBConnection | SqlSession;

/** A table the catalog knows, with its columns in catalog spelling. */
export interface ResolvedTable {
  /** Catalog spelling of the table name. */
  readonly name: string;
  /** `"name"`, safe to splice into SQL. */
  readonly sql: string;
  /** Column name (catalog spelling) → DuckDB data type, in ordinal order. */
  readonly columns: ReadonlyMap<string, string>;
}

/** A column the catalog knows. */
export interface ResolvedColumn {
  readonly name: string;
  /** `"name"`, safe to splice into SQL. */
  readonly sql: string;
  /** DuckDB data type as the catalog spells it, e.g. `BIGINT`, `VARCHAR`, `DECIMAL(18,3)`. */
  readonly type: string;
}

/** Double-quotes an identifier the catalog has already vouched for. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Looks a table or view up in the current schema (TEMP tables first, as DuckDB resolves unqualified names), by
 * exact name, else by a unique case-insensitive match.
 * @returns undefined when the catalog has no such table
 * @throws FedmeshError INVALID_JOB naming `field` when `name` is not a non-empty string or is ambiguous
 */
export async function findTable(db: AnalyticsDb, name: unknown, field: string): Promise<ResolvedTable | undefined> {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255) {
    throw invalidJob(field, 'must be a non-empty table name (at most 255 characters)');
  }
  const s = asSession(db);
  const rows = (await s.all(s.dialect.tableColumnsSql(), [name])).map((r) => ({
    catalog: String(r['table_catalog']),
    table: String(r['table_name']),
    column: String(r['column_name']),
    type: String(r['data_type']),
  }));
  if (rows.length === 0) return undefined;
  // DuckDB resolves an unqualified name to the TEMP catalog first; mirror that so the columns we check are the
  // columns the query will read.
  const catalog = rows[0]!.catalog;
  const inCatalog = rows.filter((r) => r.catalog === catalog);
  const names = [...new Set(inCatalog.map((r) => r.table))];
  const chosen = names.includes(name) ? name : names.length === 1 ? names[0]! : undefined;
  if (chosen === undefined) throw invalidJob(field, `table name "${name}" is ambiguous (differs only in case)`);
  const columns = new Map<string, string>();
  for (const r of inCatalog) if (r.table === chosen) columns.set(r.column, r.type);
  return { name: chosen, sql: quoteIdent(chosen), columns };
}

/**
 * Like {@link findTable}, but the table must exist.
 * @throws FedmeshError INVALID_JOB naming `field` when the table does not exist
 */
export async function requireTable(conn: AnalyticsDb, name: unknown, field: string): Promise<ResolvedTable> {
  const t = await findTable(conn, name, field);
  if (t === undefined) throw invalidJob(field, `no table or view named "${String(name)}"`);
  return t;
}

/**
 * Resolves a column of a resolved table (exact name, else unique case-insensitive match).
 * @throws FedmeshError INVALID_JOB naming `field` when the column is not in the table
 */
export function requireColumn(table: ResolvedTable, name: unknown, field: string): ResolvedColumn {
  if (typeof name !== 'string' || name.length === 0) throw invalidJob(field, 'must be a non-empty column name');
  let found = table.columns.has(name) ? name : undefined;
  if (found === undefined) {
    const ci = [...table.columns.keys()].filter((c) => c.toLowerCase() === name.toLowerCase());
    if (ci.length === 1) found = ci[0];
  }
  if (found === undefined) throw invalidJob(field, `no column "${name}" in table "${table.name}"`);
  return { name: found, sql: quoteIdent(found), type: table.columns.get(found)! };
}

/**
 * An OMOP table the analysis needs: it must exist with the named columns, else FAILED_PRECONDITION (the job is
 * fine; this agent's data cannot serve it).
 * @throws FedmeshError FAILED_PRECONDITION naming the table or column
 */
export async function requireOmopTable(
  conn: AnalyticsDb,
  name: string,
  columns: readonly string[],
): Promise<ResolvedTable> {
  const t = await findTable(conn, name, name);
  if (t === undefined) {
    throw new FedmeshError('FAILED_PRECONDITION', `the analysis needs the OMOP table ${name}, which is missing`, {
      details: { missing: [name] },
    });
  }
  const missing = columns.filter((c) => !t.columns.has(c));
  if (missing.length > 0) {
    throw new FedmeshError('FAILED_PRECONDITION', `OMOP table ${name} lacks column(s) ${missing.join(', ')}`, {
      details: { table: name, missing },
    });
  }
  return t;
}

/**
 * A cohort table as `runCohort` writes it: `(subject_id, cohort_start_date, ...)`.
 * @throws FedmeshError INVALID_JOB naming `field` when the table is missing or lacks those columns
 */
export async function requireCohortTable(conn: AnalyticsDb, name: unknown, field: string): Promise<ResolvedTable> {
  const t = await requireTable(conn, name, field);
  for (const c of ['subject_id', 'cohort_start_date']) {
    if (!t.columns.has(c)) throw invalidJob(field, `table "${t.name}" is not a cohort table (no column ${c})`);
  }
  return t;
}

/** Converts a COUNT from the database to bigint. */
export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (v === null || v === undefined) return 0n;
  throw new FedmeshError('INTERNAL', 'unexpected count type from the database');
}

/** Wraps DuckDB failures as INTERNAL with the DuckDB message only in `cause` (it can quote data values). */
export async function guardDuckDb<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof FedmeshError) throw e;
    throw new FedmeshError('INTERNAL', `${what} failed`, { cause: e });
  }
}
