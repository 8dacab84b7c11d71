/**
 * A source of uniformly random bytes. Everything in `algorithms/` that needs randomness takes one of these,
 * so the pure code never reaches for a global generator.
 *
 * Production code passes `createCryptoRng()` from `common/crypto-rng.ts` (Node's CSPRNG). Deterministic
 * generators exist for tests only (`algorithms/testing/seeded-rng.ts`) and must never be used to release data.
 */
export interface Rng {
  /** Fills `bytes` with uniformly random bytes and returns it. */
  fill(bytes: Uint8Array): Uint8Array;
}

/** Uniform integer in [0, n) for n ≥ 1, by rejection sampling (no modulo bias). @throws RangeError if n < 1 */
export function uniformBigInt(rng: Rng, n: bigint): bigint {
  if (n < 1n) throw new RangeError(`uniformBigInt: n must be >= 1, got ${n}`);
  if (n === 1n) return 0n;
  const bits = (n - 1n).toString(2).length;
  const byteLen = Math.ceil(bits / 8);
  const excess = BigInt(byteLen * 8 - bits);
  const buf = new Uint8Array(byteLen);
  for (;;) {
    rng.fill(buf);
    let v = 0n;
    for (const b of buf) v = (v << 8n) | BigInt(b);
    v >>= excess;
    if (v < n) return v;
  }
}

/** Uniform 32-bit unsigned integer. */
export function uniformUint32(rng: Rng): number {
  const b = rng.fill(new Uint8Array(4));
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}
