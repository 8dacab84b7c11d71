/** Semantic types: which storage types each one fits, and the guess made for columns nobody declared. */
import {
  isBooleanType, isDateType, isNumericType, isStructuredType, isTemporalType, isTimestampType,
} from './column-types.js';
import type { SemanticType } from './types.js';

/**
 * Whether a column of DuckDB type `type` can carry `semanticType`.
 * @returns undefined when it fits, else the reason, naming both.
 */
export function semanticTypeFits(semanticType: SemanticType, type: string): string | undefined {
  const need = (ok: boolean, what: string): string | undefined =>
    ok ? undefined : `semantic type '${semanticType}' needs ${what} column, not ${type}`;
  switch (semanticType) {
    case 'date': return need(isTemporalType(type), 'a DATE or TIMESTAMP');
    case 'datetime': return need(isTimestampType(type), 'a TIMESTAMP');
    case 'quantity': return need(isNumericType(type), 'a numeric');
    case 'concept_id': return need(isNumericType(type), 'an integer');
    case 'boolean': return need(isBooleanType(type), 'a BOOLEAN');
    case 'structured': return need(isStructuredType(type), 'a JSON, LIST or STRUCT');
    case 'identifier':
    case 'reference':
    case 'code':
    case 'category':
    case 'text':
      return need(!isStructuredType(type), 'a scalar');
  }
}

/** Text columns whose values come from a small closed set. */
const CATEGORY_NAMES = new Set([
  'gender', 'status', 'intent', 'clinical_status', 'verification_status', 'category_code', 'class_code',
  'standard_concept', 'invalid_reason', 'domain_id', 'vocabulary_id', 'concept_class_id', 'relationship_id',
  'is_hierarchical', 'defines_ancestry', 'reverse_relationship_id', 'route_code', 'value_unit', 'value_unit_code',
]);
/** Source-value columns that hold a person's or provider's own key. */
const PERSON_KEYS = new Set(['person_source_value', 'provider_source_value']);
const TEXT_NAMES = new Set(['value_string', 'value_as_string', 'stop_reason', 'sig', 'dosage_text', 'source_file']);

export interface InferenceContext {
  /** The table's own key column (`person_id` in person, `id` in FHIR tables). */
  primaryKey?: string | undefined;
  privacyUnit?: string | undefined;
}

/**
 * Guess a column's semantic type from its DuckDB type and its name (OMOP and FHIR naming conventions).
 * The storage type decides first, so the guess always fits (see `semanticTypeFits`).
 */
export function inferSemanticType(column: string, type: string, ctx: InferenceContext = {}): SemanticType {
  const name = column.toLowerCase();
  if (isDateType(type)) return 'date';
  if (isTimestampType(type)) return 'datetime';
  if (isBooleanType(type)) return 'boolean';
  if (isStructuredType(type)) return 'structured';
  if (column === ctx.primaryKey || column === ctx.privacyUnit) return 'identifier';
  if (isNumericType(type)) {
    if (name === 'concept_id' || /_concept_id(_\d)?$/.test(name) || /^concept_id_\d$/.test(name)) return 'concept_id';
    if (name === 'id' || name.endsWith('_id')) return 'reference';
    return 'quantity';
  }
  if (name === 'id') return 'identifier';
  // OMOP: "an (encrypted) key derived from the person identifier in the source data" — a person key, not a code.
  if (PERSON_KEYS.has(name)) return 'identifier';
  if (name.endsWith('_id') && !CATEGORY_NAMES.has(name)) return 'reference';
  if (CATEGORY_NAMES.has(name) || name.endsWith('_system')) return 'category';
  if (TEXT_NAMES.has(name) || name.endsWith('_display') || name.endsWith('_text') || name.endsWith('_name')) return 'text';
  if (name.endsWith('_source_value') || name.endsWith('_code') || name === 'code') return 'code';
  return 'text';
}
