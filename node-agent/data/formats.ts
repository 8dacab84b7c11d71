/**
 * Recognising the standard health formats in an agent's data folder, and the format-specific ingest the agent's
 * plain ingest hands them to: OMOP CDM tables (CSV/Parquet), FHIR R4 Bundles / resources (`*.json`) and FHIR
 * Bulk Data (`*.ndjson`). Everything else CSV/Parquet is left as `tabular`.
 */
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './omop/sql.js';
import { checkDataFile } from './data-file.js';
import type { IngestIssue } from './omop/report.js';
import { omopTableAnyVersion } from './omop/cdm-spec.js';
import { detectOmopVersion, readCsvHeader, resolveOmopTable, tableFileKind, tableStem } from './omop/table-files.js';
import { isConsentFileName } from '../policy/consent-files.js';

export { ingestOmop, type OmopIngestOptions, type OmopIngestReport } from './omop/ingest-omop.js';
export { ingestFhir, type FhirIngestOptions, type FhirIngestReport } from './fhir/ingest-fhir.js';
export type { IngestIssue, FormatIngestReport } from './omop/report.js';
export type { ConceptMappingState } from './fhir/to-omop.js';

export type DetectedFormat =
  | { kind: 'omop'; files: string[]; version: '5.3' | '5.4'; /** CDM table per file. */ tables: Record<string, string> }
  | { kind: 'fhir-bundle'; files: string[] }
  | { kind: 'fhir-ndjson'; files: string[] }
  | { kind: 'tabular'; files: string[] };

/** How deep below the data folder files are looked for. */
const MAX_DEPTH = 4;
const PEEK_BYTES = 64 * 1024;

async function listFiles(dir: string, depth: number, out: string[], skipped: IngestIssue[], maxFileBytes: number | undefined): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    if (depth === 0 && isConsentFileName(e.name)) continue; // patient consent, read by the consent loader, never a product
    const full = path.join(dir, e.name);
    // Real sub-folders are searched; symbolic links are followed only to regular files (checked and size-bounded
    // like any file), so a link loop or a link to a folder or device is a warning, never a hang or a crash.
    if (e.isDirectory()) {
      if (depth < MAX_DEPTH) await listFiles(full, depth + 1, out, skipped, maxFileBytes);
      else skipped.push({ file: full, message: `not searched: folders more than ${MAX_DEPTH} levels below the data folder are not read; move its files up` });
      continue;
    }
    const check = await checkDataFile(full, maxFileBytes);
    if (check.ok) out.push(full);
    else skipped.push({ file: full, message: check.reason });
  }
}

async function peek(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(PEEK_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

const RESOURCE_TYPE = /"resourceType"\s*:\s*"[A-Za-z]+"/;

/** Column names of a tabular file (CSV header line, or Parquet schema through DuckDB). */
async function headerOf(file: string, kind: 'csv' | 'parquet', getConn: () => Promise<DuckDBConnection>): Promise<string[]> {
  if (kind === 'csv') return (await readCsvHeader(file)).names;
  const conn = await getConn();
  const reader = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  return reader.getRowObjectsJS().map((r) => String(r['column_name']));
}

export interface DetectOptions {
  /**
   * Files of the OMOP set the agent last loaded (absolute path → CDM table). Such a file stays in the OMOP set even
   * when its header is unreadable or no longer recognised today, so that the set is refused as a whole (and its
   * previous version kept) instead of the file drifting into a plain table. @default none
   */
  knownOmopFiles?: ReadonlyMap<string, string>;
  /** Entries refused (dangling or looping links, links to folders, devices, oversized files) are pushed here. */
  skipped?: IngestIssue[];
  /** @default MAX_DATA_FILE_BYTES */
  maxFileBytes?: number;
}

/**
 * Find the formats in `dataDir` (and its sub-folders, four levels deep; dot-folders skipped):
 * - `omop`: per folder, the CSV/Parquet files that are CDM tables, when the folder has both a `person` and an
 *   `observation_period` table (a lone `person.csv` is an ordinary table). A file is a CDM table by a header holding
 *   a table's required columns, or, whatever its content, by its name (any case) or by having been in the OMOP set
 *   last loaded (`options.knownOmopFiles`): recognition must not depend on whether a file happens to be readable
 *   this time, or a damaged `person` file would turn the whole CDM into plain tables.
 *   The version from version-specific columns (@default '5.4');
 * - `fhir-bundle`: `*.json` files holding a FHIR resource (a Bundle or a single resource);
 * - `fhir-ndjson`: `*.ndjson` files whose first line is a FHIR resource;
 * - `tabular`: every other CSV/Parquet file (including CDM tables fedmesh does not describe, e.g. `cost`).
 * JSON and NDJSON files that are not FHIR (a manifest, say) are not listed. Files within a group are sorted.
 */
export async function detectFormats(dataDir: string, options: DetectOptions = {}): Promise<DetectedFormat[]> {
  const files: string[] = [];
  await listFiles(path.resolve(dataDir), 0, files, options.skipped ?? [], options.maxFileBytes);
  files.sort();
  let instance: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  const getConn = async (): Promise<DuckDBConnection> => {
    instance ??= await DuckDBInstance.create(':memory:');
    conn ??= await instance.connect();
    return conn;
  };
  const bundles: string[] = [];
  const ndjson: string[] = [];
  const tabular: string[] = [];
  const omopByDir = new Map<string, Array<{ file: string; table: string; columns: string[] }>>();
  try {
    for (const file of files) {
      const lower = file.toLowerCase();
      if (lower.endsWith('.json')) {
        if (RESOURCE_TYPE.test(await peek(file))) bundles.push(file);
        continue;
      }
      if (lower.endsWith('.ndjson')) {
        const firstLine = (await peek(file)).split('\n')[0] ?? '';
        if (RESOURCE_TYPE.test(firstLine)) ndjson.push(file);
        continue;
      }
      const kind = tableFileKind(file);
      if (kind === undefined) continue;
      let columns: string[] = [];
      let table: string | undefined;
      try {
        columns = await headerOf(file, kind, getConn);
        table = resolveOmopTable(file, columns);
      } catch {
        // Unreadable here: the ingest of whichever set it belongs to reports it.
      }
      const stem = tableStem(file);
      table ??= options.knownOmopFiles?.get(file) ?? (omopTableAnyVersion(stem) !== undefined ? stem : undefined);
      if (table === undefined) {
        tabular.push(file);
        continue;
      }
      const dir = path.dirname(file);
      const list = omopByDir.get(dir) ?? [];
      list.push({ file, table, columns });
      omopByDir.set(dir, list);
    }
  } finally {
    conn?.closeSync();
    instance?.closeSync();
  }
  const out: DetectedFormat[] = [];
  for (const [, list] of [...omopByDir.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (list.some((f) => f.table === 'person') && list.some((f) => f.table === 'observation_period')) {
      out.push({ kind: 'omop', files: list.map((f) => f.file), version: detectOmopVersion(list), tables: Object.fromEntries(list.map((f) => [f.file, f.table])) });
    } else {
      tabular.push(...list.map((f) => f.file));
    }
  }
  if (bundles.length > 0) out.push({ kind: 'fhir-bundle', files: bundles });
  if (ndjson.length > 0) out.push({ kind: 'fhir-ndjson', files: ndjson });
  if (tabular.length > 0) out.push({ kind: 'tabular', files: tabular.sort() });
  return out;
}
