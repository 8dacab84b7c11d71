/**
 * FHIR R4 ingest: Bundles / single-resource JSON files and Bulk Data NDJSON into flat `fhir_*` tables and, by
 * default, OMOP-shaped tables, in one transaction. DuckDB reads the NDJSON (`read_ndjson_objects`) and does all
 * extraction in SQL; JavaScript only unwraps Bundles and, when DuckDB refuses a file, finds the bad lines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../../common/errors.js';
import { formatIssue, type FormatIngestReport, type IngestIssue } from '../omop/report.js';
import { sqlIdent, sqlString } from '../omop/sql.js';
import { findBadNdjsonLines, unwrapJsonFiles } from './bundles.js';
import { FHIR_TABLES, FLATTEN_SQL, KEPT_TYPES, MACROS_SQL, STAGE_TABLE } from './flatten.js';
import { OMOP_FROM_FHIR_TABLES, mapFhirToOmop, type ConceptMappingState } from './to-omop.js';
import { publishableResourceType } from './resource-types.js';
import { describeReadError } from '../read-error.js';

export interface FhirIngestOptions {
  /** Also build the OMOP-shaped tables (person, visit_occurrence, …) from the flat ones. @default true */
  mapToOmop?: boolean;
}

export interface FhirIngestReport extends FormatIngestReport {
  /** Per OMOP table: whether its main concept column holds concept ids ('mapped'), some, or only 0. */
  conceptMapping: Record<string, ConceptMappingState>;
}

const RAW_TABLE = '__fedmesh_fhir_raw';
/** Bulk Data lines can carry whole documents (DocumentReference attachments). */
const MAX_OBJECT_BYTES = 256 * 1024 * 1024;
const KEPT_LIST = KEPT_TYPES.map(sqlString).join(', ');

function commonFolder(files: readonly string[]): string {
  const dirs = [...new Set(files.map((f) => path.dirname(f)))];
  return dirs.length === 1 ? (dirs[0] as string) : dirs.length === 0 ? '(no files)' : '(several folders)';
}

async function stageNdjson(conn: DuckDBConnection, file: string, sourceFile: string, wrapped: boolean): Promise<void> {
  // Wrapped lines come from unwrapJsonFiles: {"f": original file, "i": ordinal, "r": resource}.
  const resource = wrapped ? `json -> 'r'` : 'json';
  const source = wrapped ? `json ->> 'f'` : sqlString(sourceFile);
  await conn.run(`INSERT INTO ${RAW_TABLE}
    SELECT t, CASE WHEN t IN (${KEPT_LIST}) THEN coalesce(${resource} ->> 'id', ${source} || '#' || n) END,
      CASE WHEN t IN (${KEPT_LIST}) THEN ${resource} END, ${source}, n, ${resource} ->> '$.meta.lastUpdated'
    FROM (SELECT json, ${resource} ->> 'resourceType' AS t, row_number() OVER () AS n
          FROM read_ndjson_objects(${sqlString(file)}, maximum_object_size = ${MAX_OBJECT_BYTES}))`);
}

function fail(issues: IngestIssue[]): never {
  throw new FedmeshError('INVALID_ARGUMENT',
    `FHIR ingest refused (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues.map(formatIssue).join('\n')}`,
    { details: { issues: issues.map((i) => ({ ...i })) } });
}

/**
 * Ingest FHIR R4 resources of types Patient, Encounter, Condition, Observation, MedicationRequest and Procedure
 * (Medication resources resolve `medicationReference`; other types are skipped and counted in one warning).
 * Resources are deduplicated on type and id (the latest `meta.lastUpdated` wins). Tables are replaced, so a
 * re-ingest of the same files gives the same tables.
 *
 * @throws FedmeshError `INVALID_ARGUMENT` listing every malformed file and line; nothing is changed.
 */
export async function ingestFhir(
  conn: DuckDBConnection, bundleFiles: readonly string[], ndjsonFiles: readonly string[], options: FhirIngestOptions = {},
): Promise<FhirIngestReport> {
  const where = commonFolder([...bundleFiles, ...ndjsonFiles]);
  const warnings: IngestIssue[] = [];
  const tmp = await mkdtemp(path.join(tmpdir(), 'fedmesh-fhir-'));
  let conceptMapping: Record<string, ConceptMappingState> = {};
  const products = [...FHIR_TABLES];
  try {
    const unwrapped = path.join(tmp, 'bundles.ndjson');
    const unwrap = await unwrapJsonFiles(bundleFiles, KEPT_TYPES, unwrapped);
    const errors = [...unwrap.errors];

    await conn.run('BEGIN TRANSACTION');
    try {
      for (const sql of MACROS_SQL) await conn.run(sql);
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${RAW_TABLE} (resource_type VARCHAR, id VARCHAR, r JSON,
        source_file VARCHAR, ordinal BIGINT, last_updated VARCHAR)`);
      if (unwrap.kept > 0) await stageNdjson(conn, unwrapped, '', true);
      for (const file of ndjsonFiles) {
        try {
          await stageNdjson(conn, file, file, false);
        } catch (err) {
          const bad = await findBadNdjsonLines(file);
          if (bad.length > 0) errors.push(...bad);
          else errors.push({ file, message: `could not be read: ${describeReadError(err).message}` });
        }
      }
      if (errors.length > 0) fail(errors);

      // Keyed by a publishable name: a resourceType is read from the file, so anything FHIR R4 does not define is
      // counted under one label rather than quoted (a warning is published with the agent's registration).
      const skipped = new Map<string, number>();
      const count = (t: string, n: number): void => {
        const name = publishableResourceType(t);
        skipped.set(name, (skipped.get(name) ?? 0) + n);
      };
      for (const [t, n] of unwrap.skipped) count(t, n);
      const others = await conn.runAndReadAll(`SELECT coalesce(resource_type, '(no resourceType)') AS t, count(*) AS n
        FROM ${RAW_TABLE} WHERE r IS NULL GROUP BY 1`);
      for (const row of others.getRowObjectsJS()) count(String(row['t']), Number(row['n']));
      if (skipped.size > 0) {
        const total = [...skipped.values()].reduce((a, b) => a + b, 0);
        const list = [...skipped.entries()].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(', ');
        warnings.push({ file: where, message: `skipped ${total} resources of types not ingested: ${list}` });
      }

      await conn.run(`CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} AS SELECT resource_type, id, r, source_file
        FROM ${RAW_TABLE} WHERE r IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY resource_type, id ORDER BY last_updated DESC NULLS LAST, source_file DESC, ordinal DESC) = 1`);
      const dup = await conn.runAndReadAll(`SELECT (SELECT count(*) FROM ${RAW_TABLE} WHERE r IS NOT NULL) - (SELECT count(*) FROM ${STAGE_TABLE}) AS n`);
      const dups = Number(dup.getRowObjectsJS()[0]?.['n'] ?? 0);
      if (dups > 0) warnings.push({ file: where, message: `${dups} resources repeated (same type and id) were kept once` });
      await conn.run(`DROP TABLE ${RAW_TABLE}`);

      for (const table of FHIR_TABLES) await conn.run(FLATTEN_SQL[table] as string);
      await conn.run(`DROP TABLE ${STAGE_TABLE}`);
      if (options.mapToOmop ?? true) {
        conceptMapping = await mapFhirToOmop(conn, warnings, where);
        products.push(...OMOP_FROM_FHIR_TABLES);
      }
      await conn.run('COMMIT');
    } catch (err) {
      try {
        await conn.run('ROLLBACK');
      } catch {
        // Already rolled back by DuckDB; the original error is the one to report.
      }
      throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  products.sort();
  const rows: Record<string, number> = {};
  for (const t of products) {
    const r = await conn.runAndReadAll(`SELECT count(*) AS n FROM ${sqlIdent(t)}`);
    rows[t] = Number(r.getRowObjectsJS()[0]?.['n'] ?? 0);
  }
  return { products, issues: warnings, rows, conceptMapping };
}
