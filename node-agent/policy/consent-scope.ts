/**
 * The consent-filtered data scope: the persons who opted out of the job's purpose go into a temporary table on the
 * task's connection, and every product the job reads is read through an anti-join on its privacy unit, so those
 * persons are gone before any aggregate, cell, bound or noise is computed (and a person in no consent record
 * stays in: opt-out). Built per task, on the task's own connection; dropped with it.
 *
 * The scope also leaves out every row whose privacy unit is NULL (`UNIT_NOT_NULL`): such a row belongs to no person,
 * so no consent record, no per-person contribution bound and no differencing guard (whose sets are keyed by the
 * unit) can cover it, and two mode-none jobs differing by one such row would release the same guarded person set
 * and subtract to its values. One rule for every kind, on DuckDB and on a site's PostgreSQL (consent-source.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { INTERNAL_PREFIX } from '../data/products.js';
import { quoteIdent } from '../data/database.js';
import { INT_ID_MACRO } from '../data/fhir/to-omop.js';
import { optedOutPersons, type PatientConsent } from './consent.js';
import { linkageKeepFilter } from '../linkage/linkage-scope.js';

export const CONSENT_OPTOUT_TABLE = `${INTERNAL_PREFIX}consent_optout`;
/** Rows inserted per statement (DuckDB binds each value as a parameter). */
const BATCH = 1000;

/**
 * Writes the opted-out persons for `purpose` at `atMs` into the task connection's temporary table.
 * @returns how many persons the scope leaves out (for the agent's own log, never sent)
 */
export async function writeConsentScope(conn: DuckDBConnection, consents: readonly PatientConsent[], purpose: string, atMs: number): Promise<number> {
  const out = [...optedOutPersons(consents, purpose, atMs)];
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${CONSENT_OPTOUT_TABLE} (person VARCHAR PRIMARY KEY)`);
  for (let k = 0; k < out.length; k += BATCH) {
    const chunk = out.slice(k, k + BATCH);
    await conn.run(`INSERT INTO ${CONSENT_OPTOUT_TABLE} VALUES ${chunk.map((_, j) => `($${j + 1})`).join(', ')}`, chunk);
  }
  return out.length;
}

/**
 * A relation equal to `table` without the rows of opted-out persons, for use in FROM: the scope every kind's SQL
 * reads instead of the table itself. `unitColumn` is the product's privacy unit (`person_id`, a FHIR patient id).
 */
export function consentScopedRelation(table: string, unitColumn: string): string {
  return `(SELECT t.* FROM ${quoteIdent(table)} t ANTI JOIN ${CONSENT_OPTOUT_TABLE} o ON CAST(t.${quoteIdent(unitColumn)} AS VARCHAR) = o.person WHERE ${unitNotNull('t', unitColumn)})`;
}

/**
 * The scope's condition on the privacy unit: a row without one is attributable to no person, and every kind's
 * computation leaves it out (the file comment says why). `alias.unit IS NOT NULL`, quoted by `quote`.
 */
export function unitNotNull(alias: string, unitColumn: string, quote: (name: string) => string = quoteIdent): string {
  return `${alias}.${quote(unitColumn)} IS NOT NULL`;
}

export interface ScopedProduct {
  name: string;
  /** The product's privacy unit; products without one (public reference data) are not filtered. */
  privacyUnit: string | undefined;
  /**
   * The product's population (common/job/population.ts; absent: `person`): a linkage-bounded task keeps each product's
   * rows by the keep rows of its own population (node-agent/linkage/linkage-scope.ts).
   */
  population?: string | undefined;
  /** The product's declared linkage key and this site's name (linkage-bounded tasks; node-agent/linkage). */
  linkage?: { column: string; site: string } | undefined;
}

/**
 * Applies the consent scope to a task's own DuckDB connection: every product with a privacy unit is shadowed by a
 * temporary view of the same name that leaves the opted-out persons and the rows without a unit out, so every job kind's SQL on this connection
 * reads the scoped data without knowing it (DuckDB resolves the temporary catalog first; other connections still see
 * the tables). The agent opens a fresh connection per task, so the scope ends with it.
 *
 * The hook: `ConsentScopes` (consent-context.ts) calls it on every connection a task opens, for the task's purpose,
 * before any kind's SQL runs (so before contribution bounding, cells and noise). The view
 * carries the table's `rowid` as a column, as the kinds' SQL orders rows by it (contribution bounding).
 * @returns how many persons the scope leaves out (for the agent's log and audit, never sent)
 */
export async function applyConsentScope(conn: DuckDBConnection, o: { consents: readonly PatientConsent[]; purpose: string; atMs: number; products: readonly ScopedProduct[]; keepTable?: string }): Promise<number> {
  const n = await writeConsentScope(conn, o.consents, o.purpose, o.atMs);
  if (n > 0) await mapFhirPatients(conn);
  const db = String((await conn.runAndReadAll('SELECT current_database() AS d')).getRowObjectsJS()[0]!.d);
  for (const p of o.products) {
    if (!p.privacyUnit) continue;
    const source = `${quoteIdent(db)}.main.${quoteIdent(p.name)}`;
    // A linkage-bounded task (node-agent/linkage/linkage-scope.ts) also keeps only the persons of this product's
    // population that this site is designated for.
    const keep = o.keepTable ? ` AND ${linkageKeepFilter(o.keepTable, 't', { privacyUnit: p.privacyUnit, population: p.population })}` : '';
    await conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(p.name)} AS SELECT t.*, t.rowid AS rowid FROM ${source} t ANTI JOIN ${CONSENT_OPTOUT_TABLE} o ON CAST(t.${quoteIdent(p.privacyUnit)} AS VARCHAR) = o.person WHERE ${unitNotNull('t', p.privacyUnit)}${keep}`);
  }
  return n;
}

/**
 * FHIR Consents name a Patient id; the OMOP tables built from FHIR key persons by a hash of it (`__fedmesh_int_id`,
 * the ingest's own mapping). Every opted-out id that is a FHIR Patient id also leaves out that patient's OMOP
 * `person_id`, so the OMOP-shaped products are scoped as well as the flat `fhir_*` ones.
 */
export async function mapFhirPatients(conn: DuckDBConnection): Promise<void> {
  const has = (await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = 'fhir_patient'`)).getRowObjectsJS()[0];
  if (Number(has?.n ?? 0) === 0) return;
  await conn.run(INT_ID_MACRO);
  await conn.run(`INSERT OR IGNORE INTO ${CONSENT_OPTOUT_TABLE} SELECT DISTINCT CAST(__fedmesh_int_id(p.id) AS VARCHAR) FROM main.fhir_patient p WHERE p.id IN (SELECT person FROM ${CONSENT_OPTOUT_TABLE})`);
}
