import type { Grid } from '../grid.js';

/** Reads a non-negative integer count given as bigint or safe integer. @throws RangeError naming the field */
export function toCount(v: bigint | number, name: string): bigint {
  if (typeof v === 'bigint') {
    if (v < 0n) throw new RangeError(`${name} must be >= 0, got ${v}`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(v)}`);
  return BigInt(v);
}

/** Reads a signed integer aggregate given as bigint or safe integer. @throws RangeError naming the field */
export function toInteger(v: bigint | number, name: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new RangeError(`${name} must be an integer, got ${String(v)}`);
  return BigInt(v);
}

/** Reads a contribution bound k ≥ 1. @throws RangeError naming the field */
export function toPositiveInt(v: bigint | number | undefined, name: string, fallback = 1n): bigint {
  if (v === undefined) return fallback;
  const k = toCount(v, name);
  if (k < 1n) throw new RangeError(`${name} must be >= 1, got ${k}`);
  return k;
}

/** Checks finite lower < upper. @throws RangeError naming the fields */
export function checkBounds(lower: number, upper: number, name = 'bounds'): void {
  if (typeof lower !== 'number' || !Number.isFinite(lower)) throw new RangeError(`${name}.lower must be a finite number, got ${String(lower)}`);
  if (typeof upper !== 'number' || !Number.isFinite(upper)) throw new RangeError(`${name}.upper must be a finite number, got ${String(upper)}`);
  if (!(lower < upper)) throw new RangeError(`${name}.lower must be < ${name}.upper, got [${lower}, ${upper}]`);
}

export function describeGrid(grid: Grid): string {
  return `value is an exact multiple of the grid 2^${grid.exponent}`;
}
