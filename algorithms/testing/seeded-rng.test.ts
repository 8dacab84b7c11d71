import { describe, expect, it } from 'vitest';
import { createSeededRng } from './seeded-rng.js';

describe('createSeededRng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = createSeededRng(42).fill(new Uint8Array(64));
    const b = createSeededRng(42).fill(new Uint8Array(64));
    const c = createSeededRng(43).fill(new Uint8Array(64));
    const d = createSeededRng('42').fill(new Uint8Array(64));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(d);
  });
  it('fills odd lengths and produces roughly uniform bytes', () => {
    const rng = createSeededRng('uniform');
    const buf = rng.fill(new Uint8Array(256 * 1000 + 3));
    const counts = new Array<number>(256).fill(0);
    for (const b of buf) counts[b]!++;
    // each byte value expected 1000 times; 6 SE ≈ 190
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(190);
  });
  it('rejects bad seeds with a message naming the seed', () => {
    expect(() => createSeededRng(1.5)).toThrow(/seed/);
    expect(() => createSeededRng(undefined as unknown as number)).toThrow(TypeError);
  });
});
