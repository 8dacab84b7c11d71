import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { ceilToGrid, clampAndSnap, fromGrid, gridForNoiseStd, gridOfExponent, rowBoundInGridUnits, snapToGrid, sumOnGrid } from './grid.js';
import { planBoundedSum, releaseBoundedSum } from './mechanisms/bounded-sum.js';

describe('grid', () => {
  it('chooses the largest power of two <= std / 2^bits', () => {
    expect(gridForNoiseStd(1, 0).size).toBe(1);
    expect(gridForNoiseStd(1.5, 0).size).toBe(1);
    expect(gridForNoiseStd(1000, 10)).toEqual({ exponent: -1, size: 0.5 });
    expect(gridForNoiseStd(3, 24).exponent).toBe(-23);
    expect(() => gridForNoiseStd(0)).toThrow(/noiseStd/);
  });
  it('snaps exactly and rounds sensitivities up', () => {
    const g = gridOfExponent(-3); // 0.125
    expect(snapToGrid(0.1, g)).toBe(1n);
    expect(snapToGrid(-0.0625, g)).toBe(0n); // tie toward +∞
    expect(ceilToGrid(0.126, g)).toBe(2n);
    expect(ceilToGrid(0.125, g)).toBe(1n);
    expect(rowBoundInGridUnits(-0.3, 0.26, g)).toBe(3n);
    expect(clampAndSnap(99, -1, 1, g)).toBe(8n);
    expect(sumOnGrid([0.1, 0.2, 5, -7], -1, 1, g)).toBe(1n + 2n + 8n - 8n);
    expect(() => sumOnGrid([1, NaN], 0, 1, g)).toThrow(/values\[1\]/);
    expect(fromGrid(-3n, g)).toBe(-0.375);
  });
});

describe('precision attack (Mironov 2012): released sums are exact multiples of the grid', () => {
  const plan = planBoundedSum({ lower: 0, upper: 1, budget: { rho: 0.5 } });
  const g = plan.grid.size;
  const onGrid = (v: number): boolean => Number.isInteger(v / g);

  it('whatever the low bits of the inputs, every output is k·g', () => {
    const rng = createSeededRng('attack');
    const bits = createSeededRng('bits');
    for (let trial = 0; trial < 2000; trial++) {
      // values with random low-order bits
      const w = bits.fill(new Uint8Array(8));
      const x = (w[0]! * 2 ** 45 + w[1]! * 2 ** 37 + w[2]! * 2 ** 29 + w[3]! * 2 ** 21 + w[4]! * 2 ** 13 + w[5]! * 2 ** 5 + (w[6]! & 31)) / 2 ** 53;
      const r = releaseBoundedSum(plan, sumOnGrid([x, 1 - x / 3], plan.lower, plan.upper, plan.grid), rng);
      expect(onGrid(r.value)).toBe(true);
      expect(onGrid(r.ci95[0]) && onGrid(r.ci95[1])).toBe(true);
    }
  });

  it('inputs that differ only below the grid give identical outputs for identical randomness', () => {
    const x = 0.3;
    const y = 0.3 + 2 ** -40; // same grid cell
    const a = releaseBoundedSum(plan, sumOnGrid([x], 0, 1, plan.grid), createSeededRng('same'));
    const b = releaseBoundedSum(plan, sumOnGrid([y], 0, 1, plan.grid), createSeededRng('same'));
    expect(a.value).toBe(b.value);
  });

  it('negative control: a naive floating-point mechanism fails the same check', () => {
    const rng = createSeededRng('naive');
    let offGrid = 0;
    for (let i = 0; i < 200; i++) {
      const u = (rng.fill(new Uint8Array(4)).reduce((s, b) => s * 256 + b, 0) + 0.5) / 2 ** 32;
      const naive = 0.3 + plan.noise.info.std * g * (u - 0.5); // real-valued noise, not on the grid
      if (!onGrid(naive)) offGrid++;
    }
    expect(offGrid).toBeGreaterThan(190);
  });
});
