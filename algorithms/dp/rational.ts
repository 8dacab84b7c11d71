/**
 * Exact non-negative-denominator rationals on BigInt. The samplers take their parameters as rationals so that
 * the probability they realise is exactly the one the privacy proof assumes (Canonne, Kamath, Steinke 2020).
 */
export interface Rational {
  readonly num: bigint;
  /** Always > 0 after `rational()`. */
  readonly den: bigint;
}

export function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** A normalised rational num/den (den > 0, lowest terms). @throws RangeError if den is 0 */
export function rational(num: bigint, den: bigint = 1n): Rational {
  if (den === 0n) throw new RangeError('rational: den must not be 0');
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

/**
 * The exact value of a finite double as a rational (its binary expansion, no decimal rounding): 0.1 becomes
 * 3602879701896397 / 2^55. Doubling a non-integer double is exact, so the loop never rounds.
 * @throws RangeError if x is not finite
 */
export function rationalFromNumber(x: number, name = 'x'): Rational {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`${name} must be a finite number, got ${String(x)}`);
  let den = 1n;
  let v = x;
  while (!Number.isInteger(v)) {
    v *= 2;
    den *= 2n;
  }
  return rational(BigInt(v), den);
}

/** Accepts a Rational or a finite number (converted exactly). */
export function toRational(x: Rational | number, name = 'x'): Rational {
  if (typeof x === 'number') return rationalFromNumber(x, name);
  if (x === null || typeof x !== 'object' || typeof x.num !== 'bigint' || typeof x.den !== 'bigint') {
    throw new TypeError(`${name} must be a number or a Rational {num: bigint, den: bigint}`);
  }
  return rational(x.num, x.den);
}

export function add(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den + b.num * a.den, a.den * b.den);
}
export function sub(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den - b.num * a.den, a.den * b.den);
}
export function mul(a: Rational, b: Rational): Rational {
  return rational(a.num * b.num, a.den * b.den);
}
/** @throws RangeError on division by zero */
export function div(a: Rational, b: Rational): Rational {
  if (b.num === 0n) throw new RangeError('div: division by zero');
  return rational(a.num * b.den, a.den * b.num);
}
export function compare(a: Rational, b: Rational): -1 | 0 | 1 {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}
export function isPositive(a: Rational): boolean {
  return a.num > 0n && a.den > 0n;
}

/** floor(a / b) for bigint b > 0 (BigInt `/` truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}
/** ceil(a / b) for bigint b ≠ 0. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}
export function floorRational(a: Rational): bigint {
  return floorDiv(a.num, a.den);
}
export function ceilRational(a: Rational): bigint {
  return ceilDiv(a.num, a.den);
}

/**
 * floor(sqrt(n)) for n ≥ 0, exactly: integer Newton iteration started ABOVE the root at 2^⌈bits/2⌉ (never from a
 * float, which loses the low bits of a large n and left a ±1 correction loop with ~10^130 steps). From above, the
 * iterates decrease strictly to ⌊√n⌋, and since the start is within a factor 2 of the root the error squares at
 * each step: at most ⌈log₂(bitLength(n))⌉ + 3 iterations (≤ 15 for any n built from doubles, n < 2^2200).
 * @throws RangeError if n < 0
 */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt: n must be >= 0');
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Number of bits of a positive bigint. */
export function bitLength(n: bigint): number {
  return n <= 0n ? 0 : n.toString(2).length;
}

/**
 * The smallest dyadic rational ≥ a with `bits` significant bits (a > 0): used to round a noise parameter UP to a
 * value whose numerator and denominator are small, so the samplers can stay in exact small-integer arithmetic.
 * Rounding the noise up only strengthens privacy; callers account with the rounded value.
 * @throws RangeError if a ≤ 0 or bits < 2
 */
export function roundUpToSignificantBits(a: Rational, bits: number): Rational {
  if (!isPositive(a)) throw new RangeError('roundUpToSignificantBits: value must be > 0');
  if (!Number.isInteger(bits) || bits < 2) throw new RangeError('roundUpToSignificantBits: bits must be an integer >= 2');
  // Scale by 2^s so that 2^(bits-1) ≤ a·2^s < 2^bits, then round the scaled value up to an integer.
  let s = bits - (bitLength(a.num) - bitLength(a.den));
  for (;;) {
    const scaled = s >= 0 ? rational(a.num << BigInt(s), a.den) : rational(a.num, a.den << BigInt(-s));
    const hi = 1n << BigInt(bits);
    const lo = 1n << BigInt(bits - 1);
    if (compare(scaled, rational(hi)) >= 0) {
      s -= 1;
      continue;
    }
    if (compare(scaled, rational(lo)) < 0) {
      s += 1;
      continue;
    }
    const c = ceilRational(scaled);
    return s >= 0 ? rational(c, 1n << BigInt(s)) : rational(c << BigInt(-s), 1n);
  }
}

/** A double close to a (for reporting only, never for sampling). Works for huge numerators and denominators. */
export function toNumber(a: Rational): number {
  const nb = bitLength(a.num < 0n ? -a.num : a.num);
  const db = bitLength(a.den);
  const shift = Math.max(0, Math.max(nb, db) - 1000);
  if (shift === 0) return Number(a.num) / Number(a.den);
  return Number(a.num >> BigInt(shift)) / Number(a.den >> BigInt(shift));
}
