/** Argument checks shared inside `algorithms/stats/` (not part of the public face). */

/** @throws TypeError if value is not a number; RangeError if it is NaN or infinite */
export function requireFiniteNumber(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be finite, got ${value}`);
}

/** @throws TypeError if value is not a number; RangeError if it is NaN (±Infinity allowed) */
export function requireNumberNotNaN(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (Number.isNaN(value)) throw new RangeError(`${name} must not be NaN`);
}
