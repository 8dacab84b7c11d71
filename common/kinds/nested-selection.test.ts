import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { WITHHELD, withholdNestedDifferences, withholdSmallCells } from './selection.js';
import { checkLayout, type StatLayout } from './stat-layout.js';

/**
 * Complementary suppression along nested cells (issue 9, "Porting the old kinds": a cohort's attrition chain
 * qualified ⊇ rule 0 ⊇ … ⊇ persons). The invariant: along a chain, no two entries released next to each other
 * (withheld ones skipped) differ by 1 … k − 1 persons, so no withheld difference is recoverable as parent minus
 * child. Negative control: the same vectors without the `nested` declaration break the invariant.
 */
const K = 5;
// Block `attrition`: [qualified, rule:0, rule:1, persons, age:0] — the chain is entries 0..3; entry 4 is not nested.
const layout = (nested: boolean): StatLayout => ({
  blocks: [{ name: 'attrition', length: 5, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, exactOnGrid: true, release: 'selection', ...(nested ? { nested: [[0, 1, 2, 3]] } : {}) }],
});
const CHAIN = [0, 1, 2, 3];

/** Pairs of neighbouring released chain entries whose difference is 1 … k − 1 (what a researcher could subtract). */
function leaks(values: Float64Array, chain: readonly number[], k: number): number {
  const shown = chain.map((j) => values[j]!).filter((v) => v !== WITHHELD);
  let n = 0;
  for (let i = 1; i < shown.length; i++) if (shown[i - 1]! - shown[i]! > 0 && shown[i - 1]! - shown[i]! < k) n++;
  return n;
}

describe('nested selection chains (complementary suppression)', () => {
  it('withholds a child 1 … k − 1 below its last released parent and compares the next with that parent', () => {
    // 100 → 97 (3 removed: withheld) → 95 (5 below 100: released) → 95 (0 removed: released) ; age cell 2 is small.
    const out = withholdSmallCells(layout(true), { values: Float64Array.from([100, 97, 95, 95, 2]) }, K);
    expect([...out.vector.values]).toEqual([100, WITHHELD, 95, 95, WITHHELD]);
    expect(out.withheld).toBe(2);
    // A chain entry already withheld (small) is skipped, not compared: 98 is compared with 100, not with it.
    const v = Float64Array.from([100, WITHHELD, 98, 40]);
    expect(withholdNestedDifferences(v, CHAIN, K)).toBe(1);
    expect([...v]).toEqual([100, WITHHELD, WITHHELD, 40]);
  });

  it('leaves no recoverable difference on random attrition chains; without the declaration it does (negative control)', () => {
    const seeded = createSeededRng(9);
    const rng = (): number => seeded.nextUint32() / 2 ** 32;
    let leaksWithout = 0;
    for (let t = 0; t < 500; t++) {
      const cells: number[] = [Math.floor(rng() * 60)];
      for (let i = 1; i < 4; i++) cells.push(Math.max(0, cells[i - 1]! - Math.floor(rng() * 8)));
      cells.push(Math.floor(rng() * 10));
      const v = { values: Float64Array.from(cells) };
      expect(leaks(withholdSmallCells(layout(true), v, K).vector.values, CHAIN, K)).toBe(0);
      leaksWithout += leaks(withholdSmallCells(layout(false), v, K).vector.values, CHAIN, K);
    }
    expect(leaksWithout).toBeGreaterThan(50);
  });

  it('refuses a nested chain on an additive block or with an index outside the block', () => {
    const b = layout(true).blocks[0]!;
    expect(() => checkLayout({ blocks: [{ ...b, release: 'additive' }] })).toThrow(/nested/);
    expect(() => checkLayout({ blocks: [{ ...b, nested: [[0, 5]] }] })).toThrow(/nested/);
    expect(() => checkLayout(layout(true))).not.toThrow();
  });
});

describe('partitions: complementary suppression of breakdowns (red team 9, F1)', () => {
  // Block: [persons, band0, band1, band2, entries]; k = 10.
  const layout: StatLayout = {
    blocks: [{ name: 'cells', length: 5, perAgent: { lo: 0, hi: 1e9 }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, release: 'selection', partitions: [{ total: 0, parts: [1, 2, 3] }, { total: 0, parts: [4] }] }],
  };
  const run = (v: number[]): number[] => Array.from(withholdSmallCells(layout, { values: Float64Array.from(v) }, 10).vector.values);
  it('a band below k withheld alone would be the total minus the others: the smallest released band goes too', () => {
    // 5 = 100 − 40 − 55: band0 is withheld (5 < k) and band1 (40, the smallest released) with it.
    expect(run([100, 5, 40, 55, 120])).toEqual([100, WITHHELD, WITHHELD, 55, 120]);
  });
  it('a withheld total takes every non-empty part with it (their sum would give it back), entries included', () => {
    // persons (100) withheld by the attrition chain (qualified 104 → 100: 4 apart), every band ≥ k.
    const chained: StatLayout = { blocks: [{ ...layout.blocks[0]!, length: 6, nested: [[5, 0]] }] };
    const out = Array.from(withholdSmallCells(chained, { values: Float64Array.from([100, 20, 25, 55, 120, 104]) }, 10).vector.values);
    expect(out).toEqual([WITHHELD, WITHHELD, WITHHELD, WITHHELD, WITHHELD, 104]);
  });
  it('control: no part withheld, or the withheld parts adding up to k or more, changes nothing more', () => {
    expect(run([100, 20, 25, 55, 120])).toEqual([100, 20, 25, 55, 120]);
    expect(run([100, 0, 45, 55, 100])).toEqual([100, 0, 45, 55, 100]);
  });
});

describe('subsets: the entries about a withheld total (red team 41, F1)', () => {
  const layout = (subsets: { total: number; entries: number[] }[]) => ({ blocks: [{ name: 'cells', length: 5, perAgent: { lo: 0, hi: 1e9 }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, release: 'selection' as const, subsets }] });
  it('a withheld total takes its entries along, zeros included; a released total keeps them', () => {
    // total 3 persons (withheld at k = 10): entries 0, 0, 3, 12.
    const out = withholdSmallCells(layout([{ total: 0, entries: [1, 2, 3, 4] }]), { values: Float64Array.from([3, 0, 0, 3, 12]) }, 10);
    expect(Array.from(out.vector.values)).toEqual([WITHHELD, WITHHELD, WITHHELD, WITHHELD, WITHHELD]);
    const kept = withholdSmallCells(layout([{ total: 0, entries: [1, 2, 3, 4] }]), { values: Float64Array.from([30, 0, 0, 18, 12]) }, 10);
    expect(Array.from(kept.vector.values)).toEqual([30, 0, 0, 18, 12]);
  });
  it('negative control: without the declaration the zeros beside the withheld cells are released', () => {
    const out = withholdSmallCells(layout([]), { values: Float64Array.from([3, 0, 0, 3, 12]) }, 10);
    expect(Array.from(out.vector.values).filter((v) => v === 0)).toHaveLength(2);
  });
  it('a layout whose subsets point outside the block is refused', () => {
    expect(() => checkLayout(layout([{ total: 0, entries: [5] }]))).toThrow(/subsets needs/);
  });
});
