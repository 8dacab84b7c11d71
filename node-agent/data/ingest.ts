import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { INTERNAL_PREFIX, type ColumnInfo } from './products.js';
import { quoteIdent, quoteLiteral } from './database.js';
import { readCsvHeader } from './omop/table-files.js';
import { describeReadError, firstRaggedCsvLine } from './read-error.js';
import { schemaChanges } from './schema-compat.js';
import { checkDataFile } from './data-file.js';
import type { IngestIssue } from './omop/report.js';

export interface IngestedFile {
  product: string;
  file: string;
  action: 'loaded' | 'unchanged' | 'failed';
  rows?: number;
  /** Why the file was not loaded (the product keeps serving its previous version). */
  error?: string;
  /** The CSV line at fault (1 = header), when known; Parquet files have none. */
  line?: number;
}

export interface IngestReport {
  files: IngestedFile[];
  removed: string[];
  /** Loaded, but worth the operator's attention (an empty product), or entries not read (a refused link). */
  warnings: IngestIssue[];
}

export interface TabularIngestOptions {
  /**
   * Products that a standard-format set (OMOP, FHIR) loaded, with that set's name: a plain file may neither
   * replace nor drop them. @default none
   */
  reserved?: ReadonlyMap<string, string>;
  /** @default MAX_DATA_FILE_BYTES */
  maxFileBytes?: number;
}

/** A product wider than this is refused: no analysis needs it, and its schema travels in every registration. */
export const MAX_PRODUCT_COLUMNS = 1000;

/** The SQL source for a file; CSV files are read with the delimiter of their header line, so ragged rows fail. */
async function sourceOf(path: string): Promise<{ sql: string; delimiter?: string }> {
  if (extname(path).toLowerCase() === '.parquet') return { sql: `read_parquet(${quoteLiteral(path)})` };
  const { delimiter } = await readCsvHeader(path);
  return { sql: `read_csv(${quoteLiteral(path)}, header = true, auto_detect = true, delim = ${quoteLiteral(delimiter)})`, delimiter };
}

async function columnsOf(conn: DuckDBConnection, sql: string): Promise<ColumnInfo[]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjectsJS().map((x) => ({ name: String(x.column_name), type: String(x.column_type ?? x.data_type) }));
}

async function servedColumns(conn: DuckDBConnection, product: string): Promise<ColumnInfo[]> {
  const r = await conn.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_catalog = current_database() AND table_name = $1 ORDER BY ordinal_position`,
    [product],
  );
  return r.getRowObjectsJS().map((x) => ({ name: String(x.column_name), type: String(x.data_type) }));
}

/** A refusal naming what is wrong; the line is added by the caller's report. */
class FileRefused extends Error {
  constructor(message: string, readonly line?: number) {
    super(message);
  }
}

const TABULAR = new Set(['.csv', '.parquet']);

const PRODUCT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function productName(file: string): string | undefined {
  const stem = basename(file, extname(file)).toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return PRODUCT_NAME.test(stem) && !stem.startsWith(INTERNAL_PREFIX) ? stem : undefined;
}

async function ensureBookkeeping(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${INTERNAL_PREFIX}ingest (product VARCHAR PRIMARY KEY, file VARCHAR, size BIGINT, mtime_ms DOUBLE, rows BIGINT, loaded_at TIMESTAMP)`,
  );
}

/**
 * Loads every CSV or Parquet file in `dataDir` as a data product (table name = lower-cased file stem).
 * DuckDB reads the files itself; a file is loaded again only when its size or modification time changed.
 * Each file loads in its own transaction, and only when its schema is compatible with the product it replaces
 * (see `schema-compat.ts`): a file that fails to parse or changed its schema is reported (file, line where known)
 * and the product keeps serving its previous version.
 */
export async function ingestTabularFolder(conn: DuckDBConnection, dataDir: string, only?: readonly string[], options: TabularIngestOptions = {}): Promise<IngestReport> {
  const reserved = options.reserved ?? new Map<string, string>();
  await ensureBookkeeping(conn);
  // Symbolic links count as files here; `checkDataFile` below decides whether they are followed.
  const entries = only ? [...only].sort() : (await readdir(dataDir, { withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => e.name).sort();
  const files: IngestedFile[] = [];
  const warnings: IngestIssue[] = [];
  const seen = new Set<string>();
  for (const name of entries) {
    if (!TABULAR.has(extname(name).toLowerCase())) continue;
    const product = productName(name);
    // A data file is never skipped silently (red team 41, B F5): the report names it and the rule its name breaks.
    if (!product) {
      warnings.push({ file: name, message: `not loaded: a product is named after its file, and this name does not make one (letters, digits and _, starting with a letter or _, at most 63 characters, not starting with ${INTERNAL_PREFIX}); rename the file` });
      continue;
    }
    const owner = reserved.get(product);
    if (owner !== undefined) {
      files.push({ product, file: name, action: 'failed', error: `product ${product} is provided by the ${owner} files; rename ${name} to serve it as another product` });
      continue;
    }
    if (seen.has(product)) {
      files.push({ product, file: name, action: 'failed', error: `another file already provides product ${product}` });
      continue;
    }
    const path = join(dataDir, name);
    const st = await checkDataFile(path, options.maxFileBytes);
    if (!st.ok) {
      // Not a file we read (a dangling or looping link, a link to a folder or device): a product it served goes.
      warnings.push({ file: name, message: st.reason });
      continue;
    }
    seen.add(product);
    const prev = await conn.runAndReadAll(`SELECT size, mtime_ms, file FROM ${INTERNAL_PREFIX}ingest WHERE product = $1`, [product]);
    const row = prev.getRowObjectsJS()[0];
    if (row && Number(row.size) === st.size && Number(row.mtime_ms) === st.mtimeMs && row.file === name) {
      files.push({ product, file: name, action: 'unchanged' });
      continue;
    }
    let delimiter: string | undefined;
    let inTransaction = false;
    try {
      let source: string;
      try {
        ({ sql: source, delimiter } = await sourceOf(path));
      } catch (e) {
        throw new FileRefused(`header cannot be read: ${(e as Error).message}`, 1);
      }
      // DESCRIBE only sniffs (CSV) or reads the footer (Parquet): the schema is checked before any row is loaded.
      const incoming = await columnsOf(conn, `DESCRIBE SELECT * FROM ${source}`);
      if (incoming.length > MAX_PRODUCT_COLUMNS) {
        throw new FileRefused(`${incoming.length} columns, more than the ${MAX_PRODUCT_COLUMNS} a product may have (garbage, or the wrong delimiter?)`, delimiter ? 1 : undefined);
      }
      const served = await servedColumns(conn, product);
      const changes = served.length > 0 ? schemaChanges(served, incoming) : [];
      if (changes.length > 0) {
        throw new FileRefused(
          `schema changed incompatibly (${changes.slice(0, 5).join('; ')}${changes.length > 5 ? `; ${changes.length - 5} more` : ''}); ` +
            `product ${product} keeps serving its previous version. To replace it with a different schema, remove ${name}, restart the agent, then add the new file`,
          delimiter ? 1 : undefined,
        );
      }
      await conn.run('BEGIN TRANSACTION');
      inTransaction = true;
      await conn.run(`CREATE OR REPLACE TABLE ${quoteIdent(product)} AS SELECT * FROM ${source}`);
      const count = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${quoteIdent(product)}`);
      const rows = Number(count.getRowObjectsJS()[0]?.n ?? 0);
      await conn.run(
        `INSERT OR REPLACE INTO ${INTERNAL_PREFIX}ingest VALUES ($1, $2, $3, $4, $5, now()::TIMESTAMP)`,
        [product, name, st.size, st.mtimeMs, rows],
      );
      await conn.run('COMMIT');
      files.push({ product, file: name, action: 'loaded', rows });
      if (rows === 0) warnings.push({ file: name, product, message: `no data rows; product ${product} is served empty` });
    } catch (e) {
      if (inTransaction) await conn.run('ROLLBACK').catch(() => undefined);
      let problem: { line?: number; message: string };
      if (e instanceof FileRefused) problem = { message: e.message, ...(e.line !== undefined ? { line: e.line } : {}) };
      else {
        problem = describeReadError(e);
        // The dialect sniffer gives up on a ragged file without naming a line: find the first ragged record.
        if (problem.line === undefined && delimiter !== undefined) {
          const line = await firstRaggedCsvLine(path, delimiter).catch(() => undefined);
          if (line !== undefined) problem = { line, message: `${problem.message} (line ${line} has a different number of fields than the header)` };
        }
      }
      files.push({ product, file: name, action: 'failed', error: problem.message, ...(problem.line !== undefined ? { line: problem.line } : {}) });
    }
  }
  const removed: string[] = [];
  const known = await conn.runAndReadAll(`SELECT product FROM ${INTERNAL_PREFIX}ingest`);
  for (const r of known.getRowObjectsJS()) {
    const p = String(r.product);
    if (reserved.has(p)) {
      // Recorded as a plain file by an older agent, now owned by a format set: forget the record, keep the table.
      await conn.run(`DELETE FROM ${INTERNAL_PREFIX}ingest WHERE product = $1`, [p]);
      continue;
    }
    if (!seen.has(p)) {
      await conn.run('BEGIN TRANSACTION');
      await conn.run(`DROP TABLE IF EXISTS ${quoteIdent(p)}`);
      await conn.run(`DELETE FROM ${INTERNAL_PREFIX}ingest WHERE product = $1`, [p]);
      await conn.run('COMMIT');
      removed.push(p);
    }
  }
  return { files, removed, warnings };
}
