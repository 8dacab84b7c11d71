/** Classifying DuckDB type names (as `information_schema.columns.data_type` spells them). */

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL(\(\d+,\s*\d+\))?)$/i;

export function isNumericType(type: string): boolean {
  return NUMERIC.test(type.trim());
}

export function isDateType(type: string): boolean {
  return /^DATE$/i.test(type.trim());
}

export function isTimestampType(type: string): boolean {
  return /^TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?$/i.test(type.trim());
}

/** DATE or any TIMESTAMP: a column date coverage is computed for. */
export function isTemporalType(type: string): boolean {
  return isDateType(type) || isTimestampType(type);
}

export function isBooleanType(type: string): boolean {
  return /^BOOLEAN$/i.test(type.trim());
}

/** JSON, lists, arrays, structs, maps, unions. */
export function isStructuredType(type: string): boolean {
  const t = type.trim().toUpperCase();
  return t === 'JSON' || t.endsWith(']') || /^(STRUCT|MAP|UNION)\(/.test(t);
}
