/**
 * A contingency table's mode-none rule (red teams 41 and 42): no line of the table — the whole table, a row, a column
 * — nor any combination of lines may give back a count of 1 … k − 1 persons by subtraction from totals a count job
 * gives; a table with a small place is withheld whole (DataSHIELD's rule), zeros included.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { contingencyWithheld } from './contingency-suppression.js';

const K = 10;

/** The lines a researcher can total with a count job: the whole table (with outside, ambiguous), each row, each column. */
function lines(rows: number, cols: number): number[][] {
  return [
    Array.from({ length: rows * cols + 2 }, (_, i) => i),
    ...Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => r * cols + c)),
    ...Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, r) => r * cols + c)),
  ];
}

/** The disclosure property: per line, the whole line withheld, or what its total minus its released places gives is 0 or ≥ k. */
function safe(values: readonly number[], hide: readonly boolean[], rows: number, cols: number): boolean {
  return lines(rows, cols).every((line) => {
    if (line.every((i) => hide[i])) return true;
    const hidden = line.reduce((s, i) => s + (hide[i] ? values[i]! : 0), 0);
    return hidden === 0 || hidden >= K;
  });
}

describe('contingency suppression (mode none)', () => {
  it('one person selected: every place is withheld, zeros included (F1: the withheld cell named their gender and diagnosis)', () => {
    const v = [1, 0, 0, 0, 0, 0, 0, 0];
    expect(contingencyWithheld(v, 2, 3, K)).toEqual(Array(8).fill(true));
  });

  it('a row total minus its released cells is no small count (red team 41, F2: 50 − 30 − 18 gave 2 back)', () => {
    const v = [30, 18, 2, 30, 19, 1, 0, 0];
    const hide = contingencyWithheld(v, 2, 3, K);
    expect(hide).toEqual(Array(8).fill(true));
    expect(safe(v, hide, 2, 3)).toBe(true);
  });

  it('two line totals cannot pin a withheld cell (red team 42: 48 − (50 − 30) − 25 gave 3 back under per-line complements)', () => {
    // rows A, B, C × columns 1, 2: A1 = 3 is small, so nothing of the table is shown.
    const v = [3, 15, 20, 30, 25, 40, 0, 0];
    expect(contingencyWithheld(v, 3, 2, K).every(Boolean)).toBe(true);
  });

  it('a table with no small place is released whole', () => {
    expect(contingencyWithheld([12, 15, 20, 33, 0, 0], 2, 2, K)).toEqual(Array(6).fill(false));
  });

  it('property: on any table every line is withheld whole or hides 0 or at least k persons', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((r) => fc.integer({ min: 1, max: 4 }).chain((c) => fc.tuple(fc.constant(r), fc.constant(c), fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 10, max: 60 })), { minLength: r * c + 2, maxLength: r * c + 2 })))),
        ([r, c, v]) => {
          const hide = contingencyWithheld(v, r, c, K);
          expect(safe(v, hide, r, c)).toBe(true);
          // Every small place is withheld.
          v.forEach((x, i) => {
            if (x > 0 && x < K) expect(hide[i]).toBe(true);
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('negative control: the small-cell rule alone fails the property on the red team table', () => {
    const v = [30, 18, 2, 30, 19, 1, 0, 0];
    const smallOnly = v.map((x) => x > 0 && x < K);
    expect(safe(v, smallOnly, 2, 3)).toBe(false);
  });

  it('keeps what is already withheld, and refuses a vector of the wrong length', () => {
    expect(contingencyWithheld([null, 20, 20, 20, 0, 0], 2, 2, K)[0]).toBe(true);
    expect(() => contingencyWithheld([1, 2], 2, 2, K)).toThrow(/expected 6 places/);
  });
});
