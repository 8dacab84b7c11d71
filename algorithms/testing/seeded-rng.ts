import type { Rng } from '../rng.js';

/**
 * A deterministic Rng for TESTS ONLY: xoshiro128** (Blackman & Vigna, 2018), 128 bits of state, period 2^128 − 1,
 * written on 32-bit integer arithmetic so it is fast in JavaScript. It is not cryptographic: never release data
 * that was noised with it. Production code passes `createCryptoRng()` from `common/crypto-rng.ts`.
 */
export interface SeededRng extends Rng {
  /** The next 32-bit output as an unsigned integer. */
  nextUint32(): number;
}

const TEXT_SEED_SALT = 0x9e3779b9;

/** splitmix32-style finaliser: spreads a 32-bit word so that nearby seeds give unrelated states. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function seedWords(seed: number | string): [number, number, number, number] {
  let a: number;
  let b: number;
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`createSeededRng: seed must be a safe integer or a string, got ${seed}`);
    const neg = seed < 0 ? 1 : 0;
    const abs = Math.abs(seed);
    a = abs % 0x1_0000_0000;
    b = (Math.floor(abs / 0x1_0000_0000) ^ (neg << 31)) >>> 0;
  } else if (typeof seed === 'string') {
    // FNV-1a over UTF-16 code units, twice with different offsets, so string seeds never collide with numbers by design.
    a = 0x811c9dc5;
    b = TEXT_SEED_SALT;
    for (let i = 0; i < seed.length; i++) {
      const c = seed.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193) >>> 0;
      b = Math.imul(b ^ c, 0x01000193) >>> 0;
    }
    b = (b ^ 0xa5a5a5a5) >>> 0;
  } else {
    throw new TypeError('createSeededRng: seed must be a number or a string');
  }
  const s0 = mix32(a);
  const s1 = mix32(b ^ s0);
  const s2 = mix32(s0 ^ 0x6a09e667);
  const s3 = mix32(s1 ^ 0xbb67ae85);
  // xoshiro must not start from the all-zero state.
  return (s0 | s1 | s2 | s3) === 0 ? [1, 0, 0, 0] : [s0, s1, s2, s3];
}

/**
 * Creates a deterministic test generator. The same seed always yields the same byte stream.
 * @throws RangeError if a numeric seed is not a safe integer; TypeError if it is neither number nor string
 */
export function createSeededRng(seed: number | string): SeededRng {
  let [s0, s1, s2, s3] = seedWords(seed);
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  return {
    nextUint32: next,
    fill(bytes: Uint8Array): Uint8Array {
      const n = bytes.length;
      let i = 0;
      for (; i + 4 <= n; i += 4) {
        const w = next();
        bytes[i] = w & 0xff;
        bytes[i + 1] = (w >>> 8) & 0xff;
        bytes[i + 2] = (w >>> 16) & 0xff;
        bytes[i + 3] = w >>> 24;
      }
      if (i < n) {
        let w = next();
        for (; i < n; i++) {
          bytes[i] = w & 0xff;
          w >>>= 8;
        }
      }
      return bytes;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
