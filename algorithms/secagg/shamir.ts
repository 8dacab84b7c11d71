/**
 * Shamir t-of-n secret sharing over the prime field GF(p), p = 2^521 − 1 (a Mersenne prime).
 *
 * Why this field: a whole 32-byte secret (an X25519 private key or a 32-byte PRG seed) is one field element, so one
 * polynomial per secret suffices and a share is one element (66 bytes, big-endian). Any secret of up to
 * {@link SHAMIR_MAX_SECRET_BYTES} bytes fits below p. Share indices (the x-coordinates) are 1..n.
 *
 * Cost: dealing evaluates a degree-(t−1) polynomial by Horner's rule at the small integers 1..n, so each step is a
 * multiplication by a small number and one reduction — n = 100 shares of t = 67 cost ~7,000 cheap steps.
 * Reconstruction needs the Lagrange coefficients at 0 for the chosen indices; {@link createShamirReconstructor}
 * computes them once (t modular inversions) and reuses them for every secret shared among the same holders.
 *
 * Security: t − 1 shares are uniformly distributed independently of the secret (the coefficients are uniform,
 * drawn from the injected Rng, which must be a CSPRNG outside tests).
 */
import { uniformBigInt, type Rng } from '../rng.js';

/** The field prime 2^521 − 1. */
export const SHAMIR_PRIME: bigint = (1n << 521n) - 1n;
/** Bytes of one share value (big-endian field element). */
export const SHAMIR_SHARE_BYTES = 66;
/** Longest secret that is always below the prime. */
export const SHAMIR_MAX_SECRET_BYTES = 65;

export interface ShamirShare {
  /** The x-coordinate, 1..n. */
  readonly index: number;
  /** f(index) as a {@link SHAMIR_SHARE_BYTES}-byte big-endian field element. */
  readonly value: Uint8Array;
}

const P = SHAMIR_PRIME;
const BITS = 521n;

/** x mod p for 0 ≤ x < 2^1042, by folding the Mersenne form (cheaper than a general division). */
function reduce(x: bigint): bigint {
  x = (x & P) + (x >> BITS);
  x = (x & P) + (x >> BITS);
  return x >= P ? x - P : x;
}

function mod(x: bigint): bigint {
  const r = x % P;
  return r < 0n ? r + P : r;
}

/** a^-1 mod p by the extended Euclidean algorithm. */
function invert(a: bigint): bigint {
  let [r0, r1] = [P, mod(a)];
  let [t0, t1] = [0n, 1n];
  if (r1 === 0n) throw new RangeError('shamir: cannot invert 0');
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0);
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let hex = '0x';
  for (const b of bytes) hex += HEX[b]!;
  return BigInt(hex);
}

/** Big-endian, left-padded to `length` bytes. @throws RangeError if x does not fit */
export function bigIntToBytes(x: bigint, length: number): Uint8Array {
  if (x < 0n) throw new RangeError('bigIntToBytes: x must be non-negative');
  const hex = x.toString(16);
  if (hex.length > length * 2) throw new RangeError(`bigIntToBytes: value does not fit in ${length} bytes`);
  const padded = hex.padStart(length * 2, '0');
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(padded.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function checkThreshold(fn: string, threshold: number, shareCount?: number): void {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new RangeError(`${fn}: threshold must be a positive integer, got ${threshold}`);
  if (shareCount !== undefined) {
    if (!Number.isSafeInteger(shareCount) || shareCount < 1) throw new RangeError(`${fn}: shareCount must be a positive integer, got ${shareCount}`);
    if (threshold > shareCount) throw new RangeError(`${fn}: threshold (${threshold}) must be <= shareCount (${shareCount})`);
  }
}

/**
 * Splits `secret` into `shareCount` shares with indices 1..shareCount; any `threshold` of them reconstruct it.
 * @throws RangeError if the secret is empty or longer than {@link SHAMIR_MAX_SECRET_BYTES}, or the counts are invalid
 */
export function shamirSplit(secret: Uint8Array, threshold: number, shareCount: number, rng: Rng): ShamirShare[] {
  if (secret.length < 1 || secret.length > SHAMIR_MAX_SECRET_BYTES) {
    throw new RangeError(`shamirSplit: secret must be 1..${SHAMIR_MAX_SECRET_BYTES} bytes, got ${secret.length}`);
  }
  checkThreshold('shamirSplit', threshold, shareCount);
  // coeffs[0] is the secret; the rest are uniform in GF(p).
  const coeffs: bigint[] = [bytesToBigInt(secret)];
  for (let k = 1; k < threshold; k++) coeffs.push(uniformBigInt(rng, P));
  const shares: ShamirShare[] = [];
  for (let x = 1; x <= shareCount; x++) {
    const bx = BigInt(x);
    let acc = 0n;
    for (let k = threshold - 1; k >= 0; k--) acc = reduce(acc * bx + coeffs[k]!);
    shares.push({ index: x, value: bigIntToBytes(acc, SHAMIR_SHARE_BYTES) });
  }
  return shares;
}

/** Reconstructs secrets shared among a fixed set of holders, reusing the Lagrange coefficients. */
export interface ShamirReconstructor {
  /** The share indices, in the order `combine` expects values. */
  readonly indices: readonly number[];
  /**
   * Interpolates f(0) from one share value per index (in `indices` order) and returns it as `secretLength` bytes.
   * @throws RangeError if the value count or a value's size is wrong, or f(0) does not fit (wrong shares)
   */
  combine(values: readonly Uint8Array[], secretLength: number): Uint8Array;
}

function checkShareValue(fn: string, value: Uint8Array, i: number): bigint {
  if (value.length !== SHAMIR_SHARE_BYTES) throw new RangeError(`${fn}: share ${i} must be ${SHAMIR_SHARE_BYTES} bytes, got ${value.length}`);
  const y = bytesToBigInt(value);
  if (y >= P) throw new RangeError(`${fn}: share ${i} is not a field element`);
  return y;
}

/**
 * Precomputes λ_i = Π_{j≠i} x_j / (x_j − x_i) mod p for the given distinct indices.
 * @throws RangeError if indices are empty, not positive integers, or repeated
 */
export function createShamirReconstructor(indices: readonly number[]): ShamirReconstructor {
  if (indices.length === 0) throw new RangeError('createShamirReconstructor: indices must not be empty');
  const seen = new Set<number>();
  for (const x of indices) {
    if (!Number.isSafeInteger(x) || x < 1) throw new RangeError(`createShamirReconstructor: indices must be positive integers, got ${x}`);
    if (seen.has(x)) throw new RangeError(`createShamirReconstructor: index ${x} is repeated`);
    seen.add(x);
  }
  const xs = indices.map(BigInt);
  const lambdas = xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num *= xj;
      den *= xj - xi;
    });
    return mod(mod(num) * invert(den));
  });
  const frozenIndices = Object.freeze([...indices]);
  return {
    indices: frozenIndices,
    combine(values, secretLength) {
      if (values.length !== lambdas.length) {
        throw new RangeError(`ShamirReconstructor.combine: expected ${lambdas.length} share values, got ${values.length}`);
      }
      if (!Number.isSafeInteger(secretLength) || secretLength < 1 || secretLength > SHAMIR_MAX_SECRET_BYTES) {
        throw new RangeError(`ShamirReconstructor.combine: secretLength must be 1..${SHAMIR_MAX_SECRET_BYTES}, got ${secretLength}`);
      }
      let acc = 0n;
      for (let i = 0; i < values.length; i++) {
        acc = reduce(acc + reduce(lambdas[i]! * checkShareValue('ShamirReconstructor.combine', values[i]!, i)));
      }
      if (acc >> BigInt(secretLength * 8) !== 0n) {
        throw new RangeError('ShamirReconstructor.combine: the shares do not interpolate to a secret of the stated length (wrong or inconsistent shares)');
      }
      return bigIntToBytes(acc, secretLength);
    },
  };
}

/**
 * Reconstructs a secret from at least `threshold` shares (extra shares are ignored: the first `threshold` by index
 * are used).
 * @throws RangeError if fewer than `threshold` shares with distinct indices are given
 */
export function shamirCombine(shares: readonly ShamirShare[], threshold: number, secretLength = 32): Uint8Array {
  checkThreshold('shamirCombine', threshold);
  const byIndex = new Map<number, ShamirShare>();
  for (const s of shares) {
    const prev = byIndex.get(s.index);
    if (prev !== undefined && !sameBytes(prev.value, s.value)) throw new RangeError(`shamirCombine: two different shares for index ${s.index}`);
    byIndex.set(s.index, s);
  }
  if (byIndex.size < threshold) {
    throw new RangeError(`shamirCombine: below threshold — need ${threshold} shares with distinct indices, got ${byIndex.size}`);
  }
  const chosen = [...byIndex.values()].sort((a, b) => a.index - b.index).slice(0, threshold);
  return createShamirReconstructor(chosen.map((s) => s.index)).combine(chosen.map((s) => s.value), secretLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
