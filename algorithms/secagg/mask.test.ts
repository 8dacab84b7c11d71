import { describe, expect, it } from 'vitest';
import type { Prg } from './crypto.js';
import { expandMask } from './mask.js';

/** A toy PRG for unit tests of the expansion only (byte i = hash-ish of key, info, i): deterministic, not secure. */
const toyPrg: Prg = (key, info, nBytes) => {
  const out = new Uint8Array(nBytes);
  let h = 2166136261;
  for (const b of key) h = Math.imul(h ^ b, 16777619);
  for (let i = 0; i < info.length; i++) h = Math.imul(h ^ info.charCodeAt(i), 16777619);
  for (let i = 0; i < nBytes; i++) {
    h = Math.imul(h ^ i, 16777619);
    out[i] = (h >>> 24) & 0xff;
  }
  return out;
};

describe('expandMask', () => {
  const seed = new Uint8Array(32).fill(3);

  it('is deterministic in (seed, roundId) and depends on both', () => {
    const a = expandMask(toyPrg, seed, 64, 'r1');
    expect([...a]).toEqual([...expandMask(toyPrg, seed, 64, 'r1')]);
    expect([...a]).not.toEqual([...expandMask(toyPrg, seed, 64, 'r2')]);
    expect([...a]).not.toEqual([...expandMask(toyPrg, new Uint8Array(32).fill(4), 64, 'r1')]);
  });

  it('reads the PRG bytes as little-endian uint32, also from an unaligned buffer', () => {
    const unalignedPrg: Prg = (k, i, n) => {
      const b = toyPrg(k, i, n);
      const shifted = new Uint8Array(n + 1).subarray(1);
      shifted.set(b);
      return shifted;
    };
    const bytes = toyPrg(seed, 'fedmesh/secagg/v1/mask/r1', 8);
    const expected = new DataView(bytes.buffer).getUint32(4, true);
    expect(expandMask(toyPrg, seed, 2, 'r1')[1]).toBe(expected);
    expect([...expandMask(unalignedPrg, seed, 2, 'r1')]).toEqual([...expandMask(toyPrg, seed, 2, 'r1')]);
  });

  it('rejects bad arguments and a PRG returning the wrong length', () => {
    expect(() => expandMask(toyPrg, seed, -1, 'r')).toThrow(/length/);
    expect(() => expandMask(toyPrg, new Uint8Array(8), 4, 'r')).toThrow(/seed/);
    expect(() => expandMask(toyPrg, seed, 4, '')).toThrow(/roundId/);
    expect(() => expandMask(() => new Uint8Array(3), seed, 4, 'r')).toThrow(TypeError);
  });
});
