/**
 * Fixed-point encoding of reals into Z_2^32 for secure summation.
 *
 * A real v becomes the integer round(v · scale), stored in two's complement. Rounding is **stochastic**: v · scale
 * = f + r with f = ⌊v · scale⌋ and r ∈ [0, 1) rounds up to f + 1 with probability r, so E[encode(v)] = v · scale
 * exactly (up to the 2^-53 resolution of the uniform draw) and rounding errors do not accumulate a bias across
 * many agents the way round-to-nearest or truncation does. The randomness comes from the injected Rng.
 *
 * **Overflow bound.** Each encoded value lies in [⌊min · scale⌋, ⌈max · scale⌉], so the sum over `agents` agents
 * lies in [agents · ⌊min · scale⌋, agents · ⌈max · scale⌉]. Decoding interprets the ring sum as a signed 32-bit
 * integer, so the sum is exact if and only if that interval lies inside [−2^31, 2^31 − 1].
 * {@link checkFixedPointSumBound} checks exactly this and throws RangeError otherwise. Noise added for
 * distributed DP must be included in the bounds by the caller (e.g. a tail bound on the noise share).
 *
 * A power-of-two `scale` is recommended: v · scale is then exact in floating point (the power-of-two grid of the
 * architecture's defence against floating-point attacks).
 */
import type { Rng } from '../rng.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;
/** Elements whose uniforms are drawn per Rng call; batching keeps a syscall-backed CSPRNG cheap. */
const RANDOM_BATCH = 4096;

function checkScale(fn: string, scale: number): void {
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`${fn}: scale must be a positive finite number, got ${scale}`);
}

export interface FixedPointSumBound {
  /** Smallest value any agent may contribute in any coordinate. */
  minValue: number;
  /** Largest value any agent may contribute in any coordinate. */
  maxValue: number;
  /** Fixed-point scale: a real v is encoded as about v · scale. */
  scale: number;
  /** Number of agents whose encodings are summed. */
  agents: number;
}

/**
 * Checks that the sum of `agents` encodings of values in [minValue, maxValue] cannot wrap in Z_2^32.
 * @throws RangeError naming the argument at fault, or stating the overflow and how far it goes
 */
export function checkFixedPointSumBound(bound: FixedPointSumBound): void {
  const { minValue, maxValue, scale, agents } = bound;
  if (!Number.isFinite(minValue)) throw new RangeError(`checkFixedPointSumBound: minValue must be finite, got ${minValue}`);
  if (!Number.isFinite(maxValue)) throw new RangeError(`checkFixedPointSumBound: maxValue must be finite, got ${maxValue}`);
  if (minValue > maxValue) throw new RangeError(`checkFixedPointSumBound: minValue (${minValue}) must be <= maxValue (${maxValue})`);
  checkScale('checkFixedPointSumBound', scale);
  if (!Number.isSafeInteger(agents) || agents < 1) throw new RangeError(`checkFixedPointSumBound: agents must be a positive integer, got ${agents}`);
  // BigInt so that the products are exact even when they are far out of range.
  const lo = BigInt(Math.floor(minValue * scale)) * BigInt(agents);
  const hi = BigInt(Math.ceil(maxValue * scale)) * BigInt(agents);
  if (hi > BigInt(INT32_MAX) || lo < BigInt(INT32_MIN)) {
    throw new RangeError(
      `checkFixedPointSumBound: overflow — the sum of ${agents} agents' values in [${minValue}, ${maxValue}] at scale ${scale} ` +
        `spans [${lo}, ${hi}], outside the signed 32-bit range [${INT32_MIN}, ${INT32_MAX}]; lower the scale, tighten the bounds or use fewer agents`,
    );
  }
}

/**
 * Encodes reals into Z_2^32 with stochastic rounding. Does not check a sum bound: use
 * {@link createFixedPointCodec} (or {@link checkFixedPointSumBound}) for that.
 * @throws RangeError if `scale` is not positive, or a value is not finite or does not fit a signed 32-bit integer
 */
export function encodeFixedPoint(values: ArrayLike<number>, scale: number, rng: Rng): Uint32Array {
  checkScale('encodeFixedPoint', scale);
  const n = values.length;
  const out = new Uint32Array(n);
  const random = new Uint8Array(Math.min(n, RANDOM_BATCH) * 8);
  const view = new DataView(random.buffer);
  for (let start = 0; start < n; start += RANDOM_BATCH) {
    const count = Math.min(RANDOM_BATCH, n - start);
    rng.fill(count === RANDOM_BATCH ? random : random.subarray(0, count * 8));
    for (let j = 0; j < count; j++) {
      const i = start + j;
      const v = values[i]!;
      if (!Number.isFinite(v)) throw new RangeError(`encodeFixedPoint: values[${i}] must be finite, got ${v}`);
      const x = v * scale;
      const f = Math.floor(x);
      const r = x - f;
      // 53-bit uniform in [0, 1): 21 high bits and 32 low bits of the batch.
      const u = ((view.getUint32(j * 8, true) & 0x1fffff) * TWO_POW_32 + view.getUint32(j * 8 + 4, true)) / TWO_POW_53;
      const q = u < r ? f + 1 : f;
      if (q < INT32_MIN || q > INT32_MAX) {
        throw new RangeError(`encodeFixedPoint: values[${i}] · scale = ${x} does not fit a signed 32-bit integer`);
      }
      out[i] = q >>> 0;
    }
  }
  return out;
}

/** Decodes ring values (one encoding or a sum of encodings) to reals: two's complement, then ÷ scale. */
export function decodeFixedPoint(encoded: Uint32Array, scale: number): Float64Array {
  checkScale('decodeFixedPoint', scale);
  const out = new Float64Array(encoded.length);
  for (let i = 0; i < encoded.length; i++) out[i] = (encoded[i]! | 0) / scale;
  return out;
}

export type FixedPointCodecOptions = FixedPointSumBound;

/** A fixed-point codec whose bounds were checked once, so every sum of its encodings decodes exactly. */
export interface FixedPointCodec {
  readonly options: Readonly<FixedPointCodecOptions>;
  /** @throws RangeError if a value lies outside [minValue, maxValue] (the index is named, not the value) */
  encode(values: ArrayLike<number>, rng: Rng): Uint32Array;
  decode(sum: Uint32Array): Float64Array;
}

/**
 * Validates the bounds against the overflow bound once and returns a codec that enforces them per value.
 * @throws RangeError from {@link checkFixedPointSumBound}
 */
export function createFixedPointCodec(options: FixedPointCodecOptions): FixedPointCodec {
  checkFixedPointSumBound(options);
  const frozen = Object.freeze({ ...options });
  return {
    options: frozen,
    encode(values, rng) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        // `!(a <= b)` also rejects NaN.
        if (!(v >= frozen.minValue && v <= frozen.maxValue)) {
          throw new RangeError(`FixedPointCodec.encode: values[${i}] lies outside [minValue, maxValue] = [${frozen.minValue}, ${frozen.maxValue}]`);
        }
      }
      return encodeFixedPoint(values, frozen.scale, rng);
    },
    decode(sum) {
      return decodeFixedPoint(sum, frozen.scale);
    },
  };
}
