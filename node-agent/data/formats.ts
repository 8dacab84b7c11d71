/**
 * Recognising the standard health formats in an agent's data folder, and the format-specific ingest the agent's
 * plain ingest hands them to: OMOP CDM tables (CSV/Parquet), FHIR R4 Bundles / resources (`*.json`) and FHIR
 * Bulk Data (`*.ndjson`). Everything else CSV/Parquet is left as `tabular`.
 */
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './omop/sql.js';
import { detectOmopVersion, readCsvHeader, resolveOmopTable, tableFileKind } from './omop/table-files.js';

export { ingestOmop, type OmopIngestOptions, type OmopIngestReport } from './omop/ingest-omop.js';
export { ingestFhir, type FhirIngestOptions, type FhirIngestReport } from './fhir/ingest-fhir.js';
export type { IngestIssue, FormatIngestReport } from './omop/report.js';
export type { ConceptMappingState } from './fhir/to-omop.js';

export type DetectedFormat =
  | { kind: 'omop'; files: string[]; version: '5.3' | '5.4' }
  | { kind: 'fhir-bundle'; files: string[] }
  | { kind: 'fhir-ndjson'; files: string[] }
  | { kind: 'tabular'; files: string[] };

/** How deep below the data folder files are looked for. */
const MAX_DEPTH = 4;
const PEEK_BYTES = 64 * 1024;

async function listFiles(dir: string, depth: number, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory() && depth < MAX_DEPTH) await listFiles(full, depth + 1, out);
    else if (e.isFile()) out.push(full);
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

/**
 * Find the formats in `dataDir` (and its sub-folders, four levels deep; dot-folders skipped):
 * - `omop`: per folder, the CSV/Parquet files recognised as CDM tables (by file name, any case, or by a header
 *   holding a table's required columns), when the folder has a `person` or `observation_period` table;
 *   the version from version-specific columns (@default '5.4');
 * - `fhir-bundle`: `*.json` files holding a FHIR resource (a Bundle or a single resource);
 * - `fhir-ndjson`: `*.ndjson` files whose first line is a FHIR resource;
 * - `tabular`: every other CSV/Parquet file (including CDM tables fedmesh does not describe, e.g. `cost`).
 * JSON and NDJSON files that are not FHIR (a manifest, say) are not listed. Files within a group are sorted.
 */
export async function detectFormats(dataDir: string): Promise<DetectedFormat[]> {
  const files: string[] = [];
  await listFiles(path.resolve(dataDir), 0, files);
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
      let columns: string[];
      try {
        columns = await headerOf(file, kind, getConn);
      } catch {
        tabular.push(file); // unreadable here; the plain ingest reports it
        continue;
      }
      const table = resolveOmopTable(file, columns);
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
    if (list.some((f) => f.table === 'person' || f.table === 'observation_period')) {
      out.push({ kind: 'omop', files: list.map((f) => f.file), version: detectOmopVersion(list) });
    } else {
      tabular.push(...list.map((f) => f.file));
    }
  }
  if (bundles.length > 0) out.push({ kind: 'fhir-bundle', files: bundles });
  if (ndjson.length > 0) out.push({ kind: 'fhir-ndjson', files: ndjson });
  if (tabular.length > 0) out.push({ kind: 'tabular', files: tabular.sort() });
  return out;
}
