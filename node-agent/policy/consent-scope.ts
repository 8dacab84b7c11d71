/**
 * The consent-filtered data scope: the persons who opted out of the job's purpose go into a temporary table on the
 * task's connection, and every product the job reads is read through an anti-join on its privacy unit, so those
 * persons are gone before any aggregate, cell, bound or noise is computed (and a person in no consent record
 * stays in: opt-out). Built per task, on the task's own connection; dropped with it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { INTERNAL_PREFIX } from '../data/products.js';
import { quoteIdent } from '../data/database.js';
import { optedOutPersons, type PatientConsent } from './consent.js';

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
  return `(SELECT t.* FROM ${quoteIdent(table)} t ANTI JOIN ${CONSENT_OPTOUT_TABLE} o ON CAST(t.${quoteIdent(unitColumn)} AS VARCHAR) = o.person)`;
}
