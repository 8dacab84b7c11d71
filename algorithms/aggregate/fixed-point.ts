/**
 * The grid on which bounded measures are summed. Integer-typed columns with integer bounds are summed exactly
 * as they are (scale 2^0). Other numeric columns are snapped to the grid 2^-16 after clamping: sums of grid
 * integers are exact, so federated and pooled answers agree bit for bit, and DP noise can later be added on
 * the same grid (Mironov 2012).
 */
export const REAL_SCALE_BITS = 16;

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'BOOLEAN']);

export function isIntegerType(duckdbType: string): boolean {
  return INTEGER_TYPES.has(duckdbType.toUpperCase());
}

const NUMERIC_PREFIXES = ['DOUBLE', 'FLOAT', 'REAL', 'DECIMAL', 'NUMERIC'];

export function isNumericType(duckdbType: string): boolean {
  const t = duckdbType.toUpperCase();
  return isIntegerType(t) || NUMERIC_PREFIXES.some((p) => t.startsWith(p));
}

export function scaleBitsFor(duckdbType: string, bounds: readonly [number, number]): number {
  return isIntegerType(duckdbType) && Number.isInteger(bounds[0]) && Number.isInteger(bounds[1]) ? 0 : REAL_SCALE_BITS;
}
