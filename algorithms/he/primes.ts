/**
 * Primality for plain-modulus selection. Deterministic Miller–Rabin: the first twelve prime bases decide
 * every n < 3.3 × 10^24 (Sorenson & Webster 2015), far above SEAL's 60-bit plain-modulus limit.
 */

const WITNESSES: readonly bigint[] = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];
const DETERMINISTIC_LIMIT = 3_317_044_064_679_887_385_961_981n;

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/**
 * Whether `n` is prime. Exact for every n below 3.3 × 10^24.
 * @throws RangeError for larger n, where the fixed witness set is no longer a proof.
 */
export function isPrime(n: bigint): boolean {
  if (n >= DETERMINISTIC_LIMIT) throw new RangeError(`isPrime: n must be < ${DETERMINISTIC_LIMIT}, got ${n}`);
  if (n < 2n) return false;
  for (const p of WITNESSES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s += 1;
  }
  for (const a of WITNESSES) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let composite = true;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

/**
 * The smallest prime t ≥ `atLeast` with t ≡ 1 (mod 2·polyModulusDegree): the condition for SIMD batching
 * (the cyclotomic polynomial X^n + 1 splits completely mod t).
 * @throws RangeError if `polyModulusDegree` is not a power of two ≥ 2 or `atLeast` < 1.
 */
export function smallestBatchingPrime(polyModulusDegree: number, atLeast: bigint): bigint {
  if (!Number.isInteger(polyModulusDegree) || polyModulusDegree < 2 || (polyModulusDegree & (polyModulusDegree - 1)) !== 0) {
    throw new RangeError(`smallestBatchingPrime: polyModulusDegree must be a power of two >= 2, got ${polyModulusDegree}`);
  }
  if (atLeast < 1n) throw new RangeError(`smallestBatchingPrime: atLeast must be >= 1, got ${atLeast}`);
  const step = 2n * BigInt(polyModulusDegree);
  // First t = k·step + 1 that is ≥ atLeast, with k ≥ 1 (t = 1 is not prime).
  let k = (atLeast - 1n + step - 1n) / step;
  if (k < 1n) k = 1n;
  for (let t = k * step + 1n; ; t += step) {
    if (isPrime(t)) return t;
  }
}
