import type { DuckDBConnection } from '@duckdb/node-api';
import { MAX_CONCEPT_LOOKUP_IDS, MAX_CONCEPT_NAME_CHARS, type ConceptNameEntry } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { ProductInfo } from './products.js';

/** The OMOP vocabulary table names are looked up in, and the columns it needs. */
export const CONCEPT_TABLE = 'concept';
const NEEDED = ['concept_id', 'concept_name'];

/**
 * The ids of a `concept-names` task, checked before any SQL runs.
 * @throws FedmeshError INVALID_ARGUMENT naming the field
 */
export function checkLookupIds(ids: readonly number[] | undefined): number[] {
  if (!ids || ids.length === 0) throw new FedmeshError('INVALID_ARGUMENT', 'concept_ids: a concept-names task must list concept ids', { field: 'concept_ids' });
  if (ids.length > MAX_CONCEPT_LOOKUP_IDS) throw new FedmeshError('INVALID_ARGUMENT', `concept_ids: at most ${MAX_CONCEPT_LOOKUP_IDS} ids per lookup, got ${ids.length}`, { field: 'concept_ids' });
  for (const [i, id] of ids.entries()) {
    if (!Number.isSafeInteger(id) || id < 0) throw new FedmeshError('INVALID_ARGUMENT', `concept_ids[${i}]: must be a non-negative integer`, { field: `concept_ids[${i}]` });
  }
  return [...new Set(ids)];
}

/** Whether this agent's products include a vocabulary names can be read from. */
export function hasConceptTable(products: readonly ProductInfo[]): boolean {
  const p = products.find((x) => x.name === CONCEPT_TABLE);
  return p !== undefined && NEEDED.every((c) => p.columns.some((x) => x.name === c));
}

// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Names of `ids` from the OMOP `concept` table: only public vocabulary rows, nothing from patient tables. An id the
 * table lacks, or holds twice with different names, gets no entry. Control characters become spaces and names are
 * cut to MAX_CONCEPT_NAME_CHARS (ending in …), so what leaves passes the coordinator's checks.
 */
export async function lookUpConceptNames(conn: DuckDBConnection, ids: readonly number[]): Promise<ConceptNameEntry[]> {
  const reader = await conn.runAndReadAll(
    `SELECT TRY_CAST(concept_id AS BIGINT) AS id, any_value(CAST(concept_name AS VARCHAR)) AS name
       FROM "${CONCEPT_TABLE}"
      WHERE TRY_CAST(concept_id AS BIGINT) IN (SELECT CAST(unnest(string_split($1, ',')) AS BIGINT))
        AND concept_name IS NOT NULL
      GROUP BY 1
     HAVING count(DISTINCT CAST(concept_name AS VARCHAR)) = 1
      ORDER BY 1`,
    [ids.join(',')],
  );
  const out: ConceptNameEntry[] = [];
  for (const row of reader.getRowObjectsJS()) {
    const name = String(row.name).replace(UNSAFE_TEXT, ' ').trim();
    if (name.length === 0) continue;
    out.push({ conceptId: Number(row.id), name: name.length > MAX_CONCEPT_NAME_CHARS ? `${name.slice(0, MAX_CONCEPT_NAME_CHARS - 1)}…` : name });
  }
  return out;
}
