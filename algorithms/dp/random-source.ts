import type { Rng } from '../rng.js';

/** Default number of bytes fetched from the underlying Rng per refill. */
export const DEFAULT_RANDOM_BUFFER_BYTES = 65_536;

/** 2^32 and 2^53 as exact doubles. */
const TWO32 = 0x1_0000_0000;

/**
 * An Rng that reads its underlying generator in large blocks (64 KiB by default) and hands out bits, 32-bit words
 * and uniform integers from the block. Asking the CSPRNG for 64 KiB at a time instead of 4 bytes per draw is what
 * makes the exact samplers fast. It is itself an `Rng`, so it can be passed anywhere one is expected.
 *
 * All integer arithmetic here is on JavaScript numbers that stay below 2^53 (exact integers), never on fractions.
 */
export class BufferedRng implements Rng {
  private readonly buffer: Uint8Array;
  private pos: number;
  private bitWord = 0;
  private bitsLeft = 0;

  constructor(
    private readonly source: Rng,
    bufferBytes: number = DEFAULT_RANDOM_BUFFER_BYTES,
  ) {
    if (!Number.isInteger(bufferBytes) || bufferBytes < 64 || bufferBytes % 4 !== 0) {
      throw new RangeError('bufferBytes must be an integer multiple of 4 and at least 64');
    }
    this.buffer = new Uint8Array(bufferBytes);
    this.pos = bufferBytes;
  }

  private refill(): void {
    this.source.fill(this.buffer);
    this.pos = 0;
  }

  fill(bytes: Uint8Array): Uint8Array {
    let off = 0;
    while (off < bytes.length) {
      if (this.pos >= this.buffer.length) this.refill();
      const take = Math.min(bytes.length - off, this.buffer.length - this.pos);
      bytes.set(this.buffer.subarray(this.pos, this.pos + take), off);
      this.pos += take;
      off += take;
    }
    return bytes;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    if (this.pos + 4 > this.buffer.length) this.refill();
    const b = this.buffer;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  /** A uniform bit (0 or 1). */
  nextBit(): number {
    if (this.bitsLeft === 0) {
      this.bitWord = this.nextUint32();
      this.bitsLeft = 32;
    }
    const bit = this.bitWord & 1;
    this.bitWord >>>= 1;
    this.bitsLeft -= 1;
    return bit;
  }

  /**
   * Uniform integer in [0, n) for a safe integer n ≥ 1, by rejection on the smallest covering power of two
   * (expected fewer than 2 draws, no modulo bias).
   * @throws RangeError if n is not a safe integer ≥ 1
   */
  uniformInt(n: number): number {
    if (!(n >= 1) || !Number.isSafeInteger(n)) throw new RangeError(`uniformInt: n must be a safe integer >= 1, got ${n}`);
    if (n === 1) return 0;
    if (n <= TWO32) {
      const shift = Math.clz32(n - 1); // keep 32 - shift bits
      for (;;) {
        const x = shift === 0 ? this.nextUint32() : this.nextUint32() >>> shift;
        if (x < n) return x;
      }
    }
    const hiBits = 32 - Math.clz32(Math.floor((n - 1) / TWO32));
    for (;;) {
      const hi = this.nextUint32() >>> (32 - hiBits);
      const x = hi * TWO32 + this.nextUint32();
      if (x < n) return x;
    }
  }

  /** Uniform bigint in [0, n) for n ≥ 1. @throws RangeError if n < 1 */
  uniformBigInt(n: bigint): bigint {
    if (n < 1n) throw new RangeError(`uniformBigInt: n must be >= 1, got ${n}`);
    if (n <= 9007199254740991n) return BigInt(this.uniformInt(Number(n)));
    const bits = (n - 1n).toString(2).length;
    const words = Math.ceil(bits / 32);
    const excess = BigInt(words * 32 - bits);
    for (;;) {
      let v = 0n;
      for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(this.nextUint32());
      v >>= excess;
      if (v < n) return v;
    }
  }
}

/** Wraps an Rng in a block-reading buffer. */
export function createBufferedRng(rng: Rng, bufferBytes: number = DEFAULT_RANDOM_BUFFER_BYTES): BufferedRng {
  return new BufferedRng(rng, bufferBytes);
}

const cache = new WeakMap<Rng, BufferedRng>();

/**
 * The BufferedRng for `rng`: itself if it already is one, otherwise one wrapper per Rng object, reused across calls,
 * so sampling one value at a time does not throw away a 64 KiB block each call.
 * @throws TypeError if rng has no fill method
 */
export function asBufferedRng(rng: Rng): BufferedRng {
  if (rng instanceof BufferedRng) return rng;
  if (rng === null || typeof rng !== 'object' || typeof rng.fill !== 'function') {
    throw new TypeError('rng must be an Rng (an object with a fill(bytes) method)');
  }
  let b = cache.get(rng);
  if (b === undefined) {
    b = new BufferedRng(rng);
    cache.set(rng, b);
  }
  return b;
}
