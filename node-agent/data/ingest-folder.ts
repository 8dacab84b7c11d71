import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { detectFormats, ingestFhir, ingestOmop } from './formats.js';
import { ingestTabularFolder, type IngestedFile } from './ingest.js';
import type { IngestIssue } from './omop/report.js';
import { INTERNAL_PREFIX } from './products.js';
import { describeReadError } from './read-error.js';
import { FedmeshError } from '../../common/errors.js';

export interface FolderIngestReport {
  files: IngestedFile[];
  removed: string[];
  /**
   * One line per standard-format group: what was loaded, or why not (the previous data is kept). `issues` are the
   * problems that refused a failed group (file, line where known).
   */
  formats: { kind: string; action: 'loaded' | 'unchanged' | 'failed'; products?: string[]; error?: string; warnings?: number; issues?: IngestIssue[]; conceptMapping?: Record<string, string> }[];
  /**
   * Every warning about the data now served, whether it was loaded now or earlier (they are kept with the data, so
   * an unchanged set still reports them after a restart), and the folder entries refused this time (links).
   */
  warnings: IngestIssue[];
}

export interface FolderIngestOptions {
  /** @default MAX_DATA_FILE_BYTES */
  maxFileBytes?: number;
}

const FINGERPRINTS = `${INTERNAL_PREFIX}format_ingest`;
/** The products each format set last loaded: plain files may neither replace nor drop them. */
const FORMAT_PRODUCTS = `${INTERNAL_PREFIX}format_products`;
/** The files of the OMOP set last loaded, so that their recognition does not depend on today's readability. */
const FORMAT_FILES = `${INTERNAL_PREFIX}format_files`;
/** Warnings of the data served, per scope (`omop`, `fhir`, `file:<product>`), replaced whenever the scope loads. */
const WARNINGS = `${INTERNAL_PREFIX}ingest_warnings`;

async function fingerprint(files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of [...files].sort()) {
    const s = await stat(f);
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

/**
 * Ingests an agent's data folder by format: OMOP CDM tables (validated against the CDM, one transaction), FHIR R4
 * bundles and Bulk NDJSON (flattened and mapped to OMOP-shaped tables), and any other CSV/Parquet file as a product
 * of its own. Each group is loaded again only when one of its files changed (or a product it loaded is missing);
 * a failed group keeps the data it had. Which files form the OMOP set is remembered from the last successful load,
 * and the products of a format set are never replaced or dropped by the plain-file ingest.
 */
export async function ingestDataFolder(conn: DuckDBConnection, dataDir: string, options: FolderIngestOptions = {}): Promise<FolderIngestReport> {
  await conn.run(`CREATE TABLE IF NOT EXISTS ${FINGERPRINTS} (kind VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL)`);
  await conn.run(`CREATE TABLE IF NOT EXISTS ${FORMAT_PRODUCTS} (product VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL)`);
  await conn.run(`CREATE TABLE IF NOT EXISTS ${FORMAT_FILES} (file VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, tbl VARCHAR NOT NULL)`);
  await conn.run(`CREATE TABLE IF NOT EXISTS ${WARNINGS} (scope VARCHAR NOT NULL, file VARCHAR NOT NULL, product VARCHAR, message VARCHAR NOT NULL)`);
  const setWarnings = async (scope: string, issues: readonly IngestIssue[]): Promise<void> => {
    await conn.run(`DELETE FROM ${WARNINGS} WHERE scope = $1`, [scope]);
    for (const i of issues) await conn.run(`INSERT INTO ${WARNINGS} VALUES ($1, $2, $3, $4)`, [scope, inFolder(dataDir, i.file), i.product ?? null, i.message]);
  };
  const skipped: IngestIssue[] = [];
  const knownFiles = (await conn.runAndReadAll(`SELECT file, tbl FROM ${FORMAT_FILES} WHERE kind = 'omop'`)).getRowObjectsJS();
  const detected = await detectFormats(dataDir, { knownOmopFiles: new Map(knownFiles.map((r) => [String(r.file), String(r.tbl)])), skipped, ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}) });
  const formats: FolderIngestReport['formats'] = [];
  const known = async (kind: string, fp: string): Promise<boolean> => {
    const r = await conn.runAndReadAll(`SELECT fingerprint FROM ${FINGERPRINTS} WHERE kind = $1`, [kind]);
    if (r.getRowObjectsJS()[0]?.fingerprint !== fp) return false;
    // Unchanged files, but a product they made is gone (dropped by an older agent), or an older agent did not
    // record which products the set owns: load them again.
    const owned = await conn.runAndReadAll(
      `SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE p.product NOT IN
         (SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = current_database()))::INTEGER AS missing
         FROM ${FORMAT_PRODUCTS} p WHERE p.kind = $1`,
      [kind],
    );
    const row = owned.getRowObjectsJS()[0];
    return Number(row?.n ?? 0) > 0 && Number(row?.missing ?? 0) === 0;
  };
  const remember = async (kind: string, fp: string, products: readonly string[], files: ReadonlyArray<{ file: string; table: string }>): Promise<void> => {
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run(`INSERT OR REPLACE INTO ${FINGERPRINTS} VALUES ($1, $2)`, [kind, fp]);
      await conn.run(`DELETE FROM ${FORMAT_PRODUCTS} WHERE kind = $1`, [kind]);
      for (const p of products) await conn.run(`INSERT OR REPLACE INTO ${FORMAT_PRODUCTS} VALUES ($1, $2)`, [p, kind]);
      await conn.run(`DELETE FROM ${FORMAT_FILES} WHERE kind = $1`, [kind]);
      for (const f of files) await conn.run(`INSERT OR REPLACE INTO ${FORMAT_FILES} VALUES ($1, $2, $3)`, [f.file, kind, f.table]);
      await conn.run('COMMIT');
    } catch (e) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  };

  const omop = detected.find((d) => d.kind === 'omop');
  if (omop) {
    const fp = await fingerprint(omop.files);
    if (await known('omop', fp)) formats.push({ kind: 'omop', action: 'unchanged' });
    else {
      try {
        const r = await ingestOmop(conn, omop.files);
        await remember('omop', fp, r.products, omop.files.map((file) => ({ file, table: omop.tables[file] ?? '' })));
        await setWarnings('omop', r.issues);
        formats.push({ kind: `omop ${omop.version}`, action: 'loaded', products: r.products, warnings: r.issues.length });
      } catch (e) {
        formats.push({ kind: 'omop', action: 'failed', error: ingestError(e), issues: issuesOf(e) });
      }
    }
  }
  const bundles = detected.find((d) => d.kind === 'fhir-bundle')?.files ?? [];
  const ndjson = detected.find((d) => d.kind === 'fhir-ndjson')?.files ?? [];
  const fhirPresent = bundles.length + ndjson.length > 0;
  // With an OMOP folder present, the FHIR data stays in its flat fhir_* tables (no OMOP mapping on top).
  const mapToOmop = !omop;
  const loadFhir = async (fp: string): Promise<void> => {
    try {
      const r = await ingestFhir(conn, bundles, ndjson, { mapToOmop });
      await remember('fhir', fp, r.products, []);
      await setWarnings('fhir', r.issues);
      formats.push({ kind: 'fhir', action: 'loaded', products: r.products, warnings: r.issues.length, conceptMapping: r.conceptMapping });
    } catch (e) {
      formats.push({ kind: 'fhir', action: 'failed', error: ingestError(e), issues: issuesOf(e) });
    }
  };
  const fhirFp = fhirPresent ? await fingerprint([...bundles, ...ndjson]) : '';
  if (fhirPresent) {
    if (await known('fhir', fhirFp)) formats.push({ kind: 'fhir', action: 'unchanged' });
    else await loadFhir(fhirFp);
  }
  const owned = (await conn.runAndReadAll(`SELECT product, kind FROM ${FORMAT_PRODUCTS}`)).getRowObjectsJS();
  const reserved = new Map(owned.map((r) => [String(r.product), String(r.kind).toUpperCase()]));
  const tabular = detected.find((d) => d.kind === 'tabular')?.files ?? [];
  const r = await ingestTabularFolder(conn, dataDir, tabular.map((f) => relative(dataDir, f)), { reserved, ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}) });
  for (const f of r.files) if (f.action === 'loaded') await setWarnings(`file:${f.product}`, r.warnings.filter((w) => w.product === f.product));
  for (const p of r.removed) await setWarnings(`file:${p}`, []);
  skipped.push(...r.warnings.filter((w) => w.product === undefined));
  // The FHIR → OMOP mapping reads its concept ids from the vocabulary tables, which plain files (concept.csv,
  // concept_relationship.csv) provide and which load after it: when they changed (loaded, replaced or removed),
  // map again, so the same files give the same concept ids whatever the ingest history.
  const vocabularyChanged =
    r.files.some((f) => VOCABULARY_PRODUCTS.has(f.product) && f.action === 'loaded') || r.removed.some((p) => VOCABULARY_PRODUCTS.has(p));
  if (fhirPresent && mapToOmop && vocabularyChanged) {
    const i = formats.findIndex((f) => f.kind === 'fhir');
    if (i >= 0) formats.splice(i, 1);
    await loadFhir(fhirFp);
  }
  // A format set whose products are gone (the folder no longer has it) takes its warnings with it.
  for (const kind of ['omop', 'fhir']) {
    const served = (await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${FORMAT_PRODUCTS} WHERE kind = $1`, [kind])).getRowObjectsJS()[0];
    if (Number(served?.n ?? 0) === 0) await setWarnings(kind, []);
  }
  const stored = (await conn.runAndReadAll(`SELECT file, product, message FROM ${WARNINGS} ORDER BY scope, file, message`)).getRowObjectsJS();
  const warnings: IngestIssue[] = [
    ...stored.map((w) => ({ file: String(w.file), message: String(w.message), ...(w.product === null || w.product === undefined ? {} : { product: String(w.product) }) })),
    ...skipped.map((w) => ({ ...w, file: inFolder(dataDir, w.file) })),
  ];
  return { files: r.files, removed: r.removed, formats, warnings };
}

/** File names as the operator sees them in the data folder (an issue may list several, comma-separated). */
export function inFolder(dataDir: string, files: string): string {
  return files.split(', ').map((f) => (isAbsolute(f) ? relative(dataDir, f) || '.' : f)).join(', ');
}

/**
 * Why a format's ingest failed, as published with the agent's registration: the ingest's own refusal as written
 * (it names files, lines and checks), anything else (an engine error, which can quote a row's value) scrubbed.
 */
function ingestError(e: unknown): string {
  return e instanceof FedmeshError ? e.message : `the mapping query failed: ${describeReadError(e).message}`;
}

/** The problems a format ingest listed when it refused its files (see `fail` in the OMOP and FHIR ingests). */
function issuesOf(e: unknown): IngestIssue[] {
  const details = (e as { details?: { issues?: unknown } }).details;
  return Array.isArray(details?.issues) ? (details.issues as IngestIssue[]) : [];
}

/** Products the FHIR → OMOP mapping looks concept ids up in. */
const VOCABULARY_PRODUCTS: ReadonlySet<string> = new Set(['concept', 'concept_relationship']);
