/**
 * OMOP CDM ingest: CSV or Parquet files, validated against the CDM description in `cdm-spec.ts` and loaded in
 * one transaction. DuckDB reads and checks the files (`read_csv` / `read_parquet` into text staging tables, one
 * aggregate query per file for the checks); JavaScript only reads header lines.
 */
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../../common/errors.js';
import {
  CORE_TABLES, REQUIRED_TABLES, duckdbType, omopTable, type OmopColumn, type OmopColumnType, type OmopVersion,
} from './cdm-spec.js';
import { formatIssue, type FormatIngestReport, type IngestIssue } from './report.js';
import { sqlIdent, sqlString } from './sql.js';
import { detectOmopVersion, readCsvHeader, resolveOmopTable, tableFileKind, tableStem, type TableFileKind } from './table-files.js';
import { describeReadError } from '../read-error.js';

export interface OmopIngestOptions {
  /** CDM version to validate against. @default detected from version-specific columns, else '5.4' */
  version?: OmopVersion;
  /**
   * Create the core clinical and vocabulary tables (see `CORE_TABLES`) that the files lack, empty, so that cohort
   * SQL over them runs. @default true
   */
  createMissingCoreTables?: boolean;
}

export interface OmopIngestReport extends FormatIngestReport {
  version: OmopVersion;
}

interface PlannedFile {
  file: string;
  kind: TableFileKind;
  table: string;
  /** Header names as written, in file order. */
  header: string[];
  delimiter: string;
  /** Spec column → position in the file. */
  positions: Map<string, number>;
}

const ISO_DATETIME = String.raw`\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?`;

/** SQL that is true when the text value `v` (not NULL) is acceptable for `type`. */
function validExpr(v: string, type: OmopColumnType): string {
  switch (type) {
    case 'integer':
      return String.raw`(regexp_full_match(${v}, '\s*[+-]?\d+(\.0*)?\s*') AND TRY_CAST(${v} AS BIGINT) IS NOT NULL)`;
    case 'float':
      return `(TRY_CAST(${v} AS DOUBLE) IS NOT NULL)`;
    case 'date':
      return `((regexp_full_match(${v}, '${ISO_DATETIME}') AND TRY_CAST(${v} AS TIMESTAMP) IS NOT NULL) OR ` +
        String.raw`(regexp_full_match(${v}, '\d{8}') AND try_strptime(${v}, '%Y%m%d') IS NOT NULL))`;
    case 'datetime':
      return `(regexp_full_match(${v}, '${ISO_DATETIME}') AND TRY_CAST(${v} AS TIMESTAMP) IS NOT NULL)`;
    case 'varchar':
      return 'TRUE';
  }
}

/** SQL converting the validated text value `v` to the column's storage type. */
function castExpr(v: string, type: OmopColumnType): string {
  switch (type) {
    case 'integer': return `CAST(trim(${v}) AS BIGINT)`;
    case 'float': return `CAST(${v} AS DOUBLE)`;
    case 'date':
      return `CASE WHEN length(${v}) = 8 THEN CAST(strptime(${v}, '%Y%m%d') AS DATE) ELSE CAST(CAST(${v} AS TIMESTAMP) AS DATE) END`;
    case 'datetime': return `CAST(${v} AS TIMESTAMP)`;
    case 'varchar': return v;
  }
}

const TYPE_WORDS: Readonly<Record<OmopColumnType, string>> = {
  integer: 'an integer', float: 'a number', date: 'an ISO date (YYYY-MM-DD)', datetime: 'an ISO date-time', varchar: 'text',
};

/** `CREATE OR REPLACE TABLE` for a CDM table in `version`. */
export function createTableSql(table: string, version: OmopVersion): string {
  const spec = omopTable(table, version);
  if (spec === undefined) throw new RangeError(`unknown OMOP table '${table}'`);
  const cols = spec.columns.map((c) => `${sqlIdent(c.name)} ${duckdbType(c.type)}`).join(', ');
  return `CREATE OR REPLACE TABLE ${sqlIdent(table)} (${cols})`;
}

/**
 * DuckDB's own words about a read failure, without the file content it quotes, and the CSV line it names (a
 * Parquet file has no lines: its issue names the file, and value problems name the row).
 */
function readFailure(file: string, err: unknown): IngestIssue {
  const { line, message } = describeReadError(err);
  const issue: IngestIssue = { file, message: `could not be read: ${message.replace(/^[A-Za-z ]*Error:\s*/, '')}` };
  if (line !== undefined && tableFileKind(file) === 'csv') issue.line = line;
  return issue;
}

async function readHeader(conn: DuckDBConnection, file: string, kind: TableFileKind): Promise<{ header: string[]; delimiter: string }> {
  if (kind === 'csv') {
    const { names, delimiter } = await readCsvHeader(file);
    return { header: names, delimiter };
  }
  const reader = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  const header = reader.getRowObjectsJS().map((r) => String(r['column_name']));
  return { header, delimiter: ',' };
}

async function plan(conn: DuckDBConnection, files: readonly string[], errors: IngestIssue[]): Promise<PlannedFile[]> {
  const planned: PlannedFile[] = [];
  for (const file of files) {
    const kind = tableFileKind(file);
    if (kind === undefined) {
      errors.push({ file, message: 'not a CSV or Parquet file' });
      continue;
    }
    let header: string[];
    let delimiter: string;
    try {
      ({ header, delimiter } = await readHeader(conn, file, kind));
    } catch (err) {
      errors.push(readFailure(file, err));
      continue;
    }
    const table = resolveOmopTable(file, header);
    if (table === undefined) {
      errors.push({ file, ...(kind === 'csv' ? { line: 1 } : {}), message: 'not recognised as an OMOP CDM table (by file name or header)' });
      continue;
    }
    planned.push({ file, kind, table, header, delimiter, positions: new Map() });
  }
  return planned;
}

/** @returns the files whose header is unusable (their values are not checked). */
function checkHeaders(planned: PlannedFile[], version: OmopVersion, errors: IngestIssue[], warnings: IngestIssue[]): Set<string> {
  const before = errors.length;
  for (const p of planned) {
    const spec = omopTable(p.table, version);
    if (spec === undefined) continue;
    const known = new Set(spec.columns.map((c) => c.name));
    const line = p.kind === 'csv' ? 1 : undefined;
    p.header.forEach((raw, i) => {
      const name = raw.toLowerCase();
      if (p.positions.has(name)) {
        errors.push({ file: p.file, line, message: `column ${name} appears more than once in the header` });
      } else if (known.has(name)) {
        p.positions.set(name, i);
      } else {
        warnings.push({ file: p.file, line, message: `column ${name} is not in OMOP CDM v${version} table ${p.table}; dropped` });
      }
    });
    for (const c of spec.columns) {
      if (c.required && !p.positions.has(c.name)) {
        errors.push({ file: p.file, line, message: `required column ${c.name} of OMOP CDM v${version} table ${p.table} is missing` });
      }
    }
  }
  return new Set(errors.slice(before).map((e) => e.file));
}

async function stage(conn: DuckDBConnection, p: PlannedFile, stagingName: string): Promise<void> {
  if (p.kind === 'csv') {
    const columns = p.header.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
    await conn.run(
      `CREATE TEMP TABLE ${sqlIdent(stagingName)} AS SELECT * FROM read_csv(${sqlString(p.file)}, header = true, ` +
      `auto_detect = false, delim = ${sqlString(p.delimiter)}, quote = '"', escape = '"', columns = {${columns}})`,
    );
  } else {
    const select = p.header.map((h, i) => `CAST(${sqlIdent(h)} AS VARCHAR) AS c${i}`).join(', ');
    await conn.run(`CREATE TEMP TABLE ${sqlIdent(stagingName)} AS SELECT ${select} FROM read_parquet(${sqlString(p.file)})`);
  }
}

/** One aggregate query that counts bad and missing values per column, with the first row of each. */
async function validateStaged(
  conn: DuckDBConnection, p: PlannedFile, stagingName: string, columns: readonly OmopColumn[], errors: IngestIssue[],
): Promise<void> {
  const parts: string[] = [];
  const checks: Array<{ column: OmopColumn; kind: 'bad' | 'null'; key: string }> = [];
  for (const c of columns) {
    const pos = p.positions.get(c.name);
    if (pos === undefined) continue;
    const v = `c${pos}`;
    if (c.type !== 'varchar') {
      const cond = `${v} IS NOT NULL AND NOT ${validExpr(v, c.type)}`;
      parts.push(`count(*) FILTER (WHERE ${cond}) AS n${checks.length}, min(rowid) FILTER (WHERE ${cond}) AS r${checks.length}`);
      checks.push({ column: c, kind: 'bad', key: String(checks.length) });
    }
    if (c.required) {
      const cond = `${v} IS NULL`;
      parts.push(`count(*) FILTER (WHERE ${cond}) AS n${checks.length}, min(rowid) FILTER (WHERE ${cond}) AS r${checks.length}`);
      checks.push({ column: c, kind: 'null', key: String(checks.length) });
    }
  }
  if (parts.length === 0) return;
  // Row ids of a table created inside a transaction start at a large offset: count from the first one.
  const reader = await conn.runAndReadAll(`SELECT min(rowid) AS first_row, ${parts.join(', ')} FROM ${sqlIdent(stagingName)}`);
  const row = reader.getRowObjectsJS()[0] ?? {};
  for (const check of checks) {
    const n = Number(row[`n${check.key}`] ?? 0);
    if (n === 0) continue;
    const rowIndex = Number(BigInt(row[`r${check.key}`] as bigint) - BigInt(row['first_row'] as bigint));
    const where = p.kind === 'csv' ? '' : ` (first at row ${rowIndex + 1})`;
    const issue: IngestIssue = {
      file: p.file,
      message: check.kind === 'bad'
        ? `column ${check.column.name}: ${n} bad value${n === 1 ? '' : 's'}, expected ${TYPE_WORDS[check.column.type]}${where}`
        : `column ${check.column.name} is required but empty in ${n} row${n === 1 ? '' : 's'}${where}`,
    };
    // Header on line 1; multi-line quoted fields would shift this, which CDM files do not use.
    if (p.kind === 'csv') issue.line = rowIndex + 2;
    errors.push(issue);
  }
}

function fail(message: string, issues: IngestIssue[]): never {
  throw new FedmeshError('INVALID_ARGUMENT', `${message}:\n${issues.map(formatIssue).join('\n')}`, {
    details: { issues: issues.map((i) => ({ ...i })) },
  });
}

/**
 * Validate OMOP CDM files against the CDM description and load them, each into the table of its CDM name, in one
 * transaction: either every table is replaced or none is. Several files for one table (chunks) are appended.
 * Columns the spec lacks are dropped (a warning); optional columns the files lack are NULL.
 *
 * @throws FedmeshError `INVALID_ARGUMENT` listing every problem (file, line where known) — nothing is changed.
 */
export async function ingestOmop(
  conn: DuckDBConnection, files: readonly string[], options: OmopIngestOptions = {},
): Promise<OmopIngestReport> {
  const errors: IngestIssue[] = [];
  const warnings: IngestIssue[] = [];
  const planned = await plan(conn, files, errors);
  const version = options.version ?? detectOmopVersion(planned.map((p) => ({ table: p.table, columns: p.header })));
  const badHeaders = checkHeaders(planned, version, errors, warnings);
  const tables = [...new Set(planned.map((p) => p.table))].sort();
  const where = files.length > 0 ? path.dirname(files[0] as string) : '(no files)';
  // A required table whose file is there but failed above is already reported by name: no second, vaguer error.
  const failedTables = new Set(files.filter((f) => !planned.some((p) => p.file === f)).map(tableStem));
  for (const t of REQUIRED_TABLES) {
    if (!tables.includes(t) && !failedTables.has(t)) errors.push({ file: where, message: `required OMOP table ${t} is missing` });
  }

  // Values are checked even when headers or tables are wrong, so that one run lists every problem.
  const staging = planned.map((_, i) => `__fedmesh_omop_stage_${i}`);
  const created = new Set<string>();
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const [i, p] of planned.entries()) {
      if (badHeaders.has(p.file)) continue;
      try {
        await stage(conn, p, staging[i] as string);
      } catch (err) {
        errors.push(readFailure(p.file, err));
        continue;
      }
      const spec = omopTable(p.table, version);
      if (spec !== undefined) await validateStaged(conn, p, staging[i] as string, spec.columns, errors);
    }
    if (errors.length > 0) fail(`OMOP CDM v${version} ingest refused (${errors.length} problem${errors.length === 1 ? '' : 's'})`, errors);

    for (const table of tables) {
      const spec = omopTable(table, version);
      if (spec === undefined) continue;
      await conn.run(createTableSql(table, version));
      created.add(table);
      for (const [i, p] of planned.entries()) {
        if (p.table !== table) continue;
        const select = spec.columns.map((c) => {
          const pos = p.positions.get(c.name);
          return pos === undefined ? `CAST(NULL AS ${duckdbType(c.type)})` : castExpr(`c${pos}`, c.type);
        }).join(', ');
        await conn.run(`INSERT INTO ${sqlIdent(table)} SELECT ${select} FROM ${sqlIdent(staging[i] as string)}`);
        await conn.run(`DROP TABLE ${sqlIdent(staging[i] as string)}`);
      }
      const pk = spec.columns.find((c) => c.primaryKey);
      if (pk !== undefined) {
        const r = await conn.runAndReadAll(
          `SELECT count(*) - count(DISTINCT ${sqlIdent(pk.name)}) AS dup FROM ${sqlIdent(table)}`,
        );
        const dup = Number(r.getRowObjectsJS()[0]?.['dup'] ?? 0);
        if (dup > 0) {
          const sources = planned.filter((p) => p.table === table).map((p) => p.file);
          // A warning, not an error: published CDMs (Eunomia GiBleed among them) carry duplicate ids.
          warnings.push({ file: sources.join(', '), message: `${dup} duplicate ${pk.name} value${dup === 1 ? '' : 's'} in table ${table}` });
        }
      }
    }
    if (options.createMissingCoreTables ?? true) {
      for (const table of CORE_TABLES) {
        if (created.has(table)) continue;
        await conn.run(createTableSql(table, version));
        created.add(table);
        warnings.push({ file: where, message: `table ${table} not supplied; created empty` });
      }
    }
    await conn.run('COMMIT');
  } catch (err) {
    try {
      await conn.run('ROLLBACK');
    } catch {
      // The transaction may already be aborted by DuckDB; the original error is the one to report.
    }
    throw err;
  }

  const products = [...created].sort();
  const rows: Record<string, number> = {};
  for (const t of products) {
    const r = await conn.runAndReadAll(`SELECT count(*) AS n FROM ${sqlIdent(t)}`);
    rows[t] = Number(r.getRowObjectsJS()[0]?.['n'] ?? 0);
  }
  return { products, issues: warnings, rows, version };
}
