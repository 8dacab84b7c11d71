/**
 * Fixed-point encoding of reals, the pre-encryption range check, and the centred mapping between signed
 * integers and residues mod t.
 */
import type { HeValueBounds, HePlan } from './parameters.js';

export const MAX_FRACTIONAL_BITS = 52;

function checkFractionalBits(fractionalBits: number): void {
  if (!Number.isInteger(fractionalBits) || fractionalBits < 0 || fractionalBits > MAX_FRACTIONAL_BITS) {
    throw new RangeError(`fractionalBits must be an integer in [0, ${MAX_FRACTIONAL_BITS}], got ${fractionalBits}`);
  }
}

/** Round half to even: unbiased on ties, unlike Math.round, which rounds −2.5 to −2 but 2.5 to 3. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Encodes reals as integers on the grid 2^−fractionalBits: round(x · 2^fractionalBits), ties to even.
 * Scaling by a power of two is exact in binary floating point, so the only error is the final rounding
 * (at most 2^−(fractionalBits+1)).
 * @throws RangeError naming the index of a non-finite value or one whose encoding exceeds 2^53.
 */
export function encodeFixedPoint(values: ArrayLike<number>, fractionalBits: number): BigInt64Array {
  checkFractionalBits(fractionalBits);
  const scale = 2 ** fractionalBits;
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`value at index ${i} is not finite (${x})`);
    const scaled = roundHalfEven(x * scale);
    if (!Number.isSafeInteger(scaled)) throw new RangeError(`value at index ${i} (${x}) is too large for ${fractionalBits} fractional bits`);
    out[i] = BigInt(scaled);
  }
  return out;
}

/** Integer bounds that contain the encoding of every real in [realMin, realMax] (rounding is monotone). */
export function fixedPointBounds(realMin: number, realMax: number, fractionalBits: number): HeValueBounds {
  if (!(realMin <= realMax)) throw new RangeError(`realMin (${realMin}) must be <= realMax (${realMax})`);
  const [lo, hi] = [encodeFixedPoint([realMin], fractionalBits)[0]!, encodeFixedPoint([realMax], fractionalBits)[0]!];
  return { min: lo, max: hi };
}

/**
 * Decodes integers back to reals: v / 2^fractionalBits. Exact while |v| < 2^53.
 * @throws RangeError for a bad `fractionalBits`.
 */
export function decodeFixedPoint(values: ArrayLike<bigint>, fractionalBits: number): Float64Array {
  checkFractionalBits(fractionalBits);
  const scale = 2 ** fractionalBits;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]!) / scale;
  return out;
}

export type HeIntegerVector = BigInt64Array | Int32Array;

/**
 * Rejects, before anything is encrypted, a vector that could make the encrypted sum wrap modulo t: its length
 * must equal the plan's, and every value must lie within the plan's per-agent bounds (the plain modulus was
 * sized so that `maxAgents` such contributions cannot overflow).
 * @throws RangeError naming the first offending index, the value and the bound.
 */
export function assertWithinPlan(values: HeIntegerVector, plan: Pick<HePlan, 'vectorLength' | 'valueBounds' | 'plainModulus'>): void {
  checkVectorType(values);
  if (values.length !== plan.vectorLength) {
    throw new RangeError(`values has length ${values.length}, but the plan is for vectors of length ${plan.vectorLength}`);
  }
  assertWithinBounds(values, plan);
}

function checkVectorType(values: unknown): asserts values is HeIntegerVector {
  if (!(values instanceof BigInt64Array) && !(values instanceof Int32Array)) {
    throw new TypeError('values must be a BigInt64Array or an Int32Array');
  }
}

/**
 * The bound check alone, for a slice of a vector that starts at `indexOffset` (messages name the index in
 * the whole vector).
 * @throws RangeError naming the first offending index, the value and the bound.
 */
export function assertWithinBounds(
  values: HeIntegerVector,
  plan: Pick<HePlan, 'valueBounds' | 'plainModulus'>,
  indexOffset = 0,
): void {
  checkVectorType(values);
  const { min, max } = plan.valueBounds;
  if (values instanceof Int32Array) {
    const lo = Number(min);
    const hi = Number(max);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo || v > hi) throw outOfBounds(indexOffset + i, BigInt(v), plan);
    }
    return;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min || v > max) throw outOfBounds(indexOffset + i, v, plan);
  }
}

function outOfBounds(index: number, value: bigint, plan: Pick<HePlan, 'valueBounds' | 'plainModulus'>): RangeError {
  return new RangeError(
    `value at index ${index} (${value}) is outside the per-agent bound [${plan.valueBounds.min}, ${plan.valueBounds.max}] ` +
      `that keeps the encrypted sum below the plain modulus ${plan.plainModulus}; refusing to encrypt`,
  );
}

/** The residue of signed `value` in [0, t): negative values map to t + value. */
export function toCentredResidue(value: bigint, plainModulus: bigint): bigint {
  const half = (plainModulus - 1n) / 2n;
  if (value > half || value < -half) throw new RangeError(`value ${value} is outside the centred range [-${half}, ${half}] of t = ${plainModulus}`);
  return value < 0n ? value + plainModulus : value;
}

/** The signed integer a residue in [0, t) stands for: residues above (t − 1)/2 are negative. */
export function fromCentredResidue(residue: bigint, plainModulus: bigint): bigint {
  if (residue < 0n || residue >= plainModulus) throw new RangeError(`residue ${residue} is outside [0, ${plainModulus})`);
  return residue > (plainModulus - 1n) / 2n ? residue - plainModulus : residue;
}
