/**
 * Bound parameters and the small option checks the analytics share: values reach SQL only as `$n`
 * placeholders; integers that shape the query (bins, windows) are re-checked before they are bound.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { invalidJob } from '../../common/errors.js';
import { duckdbDialect, type SqlDialect, type SqlType } from '../sql/index.js';

/** Collects positional parameters; `add` returns the placeholder, cast to `castTo` (in the dialect's spelling). */
export class Params {
  readonly values: DuckDBValue[] = [];

  constructor(readonly dialect: SqlDialect = duckdbDialect) {}

  add(value: DuckDBValue, castTo?: SqlType): string {
    this.values.push(value);
    const p = this.dialect.placeholder(this.values.length);
    return castTo === undefined ? p : this.dialect.cast(p, castTo);
  }
}

/** The most concepts one public list may carry (keeps the statement and the output bounded). */
export const MAX_CONCEPTS = 10_000;

/**
 * A public concept list: safe integers, no duplicates, at most {@link MAX_CONCEPTS}.
 * @throws FedmeshError INVALID_JOB naming `field` (and the index at fault)
 */
export function checkConceptList(value: unknown, field: string, { allowEmpty }: { allowEmpty: boolean }): number[] {
  if (!Array.isArray(value)) throw invalidJob(field, 'must be an array of concept ids');
  if (!allowEmpty && value.length === 0) throw invalidJob(field, 'must not be empty');
  if (value.length > MAX_CONCEPTS) throw invalidJob(field, `must have at most ${MAX_CONCEPTS} concept ids`);
  const seen = new Set<number>();
  value.forEach((v: unknown, i) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalidJob(`${field}[${i}]`, 'must be an integer concept id');
    if (seen.has(v)) throw invalidJob(`${field}[${i}]`, `duplicate concept id ${v}`);
    seen.add(v);
  });
  return [...(value as number[])];
}

/**
 * An integer option within [min, max].
 * @throws FedmeshError INVALID_JOB naming `field`
 */
export function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidJob(field, `must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/**
 * Two CTE definitions (for a `WITH` clause): `<name>_wanted(target)`, the public concepts, and `<name>(target,
 * concept_id)`, each public concept mapped to itself and, when `ancestorTable` is given, to each of its
 * descendants in `concept_ancestor`. Counting DISTINCT persons per `target` keeps a person at 1 per public concept
 * however many descendants they have.
 */
export function conceptMapCtes(
  name: string,
  concepts: readonly number[],
  params: Params,
  ancestorTable: string | undefined,
): string {
  const wanted = `${name}_wanted`;
  const values = concepts.map((c) => `(${params.add(c, 'BIGINT')})`).join(', ');
  const self = `SELECT target, target AS concept_id FROM ${wanted}`;
  const body =
    ancestorTable === undefined
      ? self
      : `${self}
         UNION
         SELECT w.target, ca.descendant_concept_id FROM ${wanted} w JOIN ${ancestorTable} ca ON ca.ancestor_concept_id = w.target`;
  return `${wanted}(target) AS (VALUES ${values}),
  ${name} AS (${body})`;
}

/** The index date of every person: the start of their first entry in a cohort table. */
export function indexDatesSql(cohortTableSql: string): string {
  return `SELECT subject_id AS person_id, min(cohort_start_date) AS index_date
      FROM ${cohortTableSql}
     WHERE subject_id IS NOT NULL AND cohort_start_date IS NOT NULL
     GROUP BY subject_id`;
}
