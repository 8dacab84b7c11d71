import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chiSquareIndependence, chiSquareSf } from './index.js';

// Agresti, An Introduction to Categorical Data Analysis (2nd ed., 2007), Table 2.5: party identification by
// gender. Published: X² = 30.07 on df = 2, P = 2.954e-07 (also the worked example of R's chisq.test), G² = 30.02,
// and the expected counts printed in the table to one decimal.
const partyByGender = [
  [762, 327, 468],
  [484, 239, 477],
];
const publishedExpected = [
  [703.7, 319.6, 533.7],
  [542.3, 246.4, 411.3],
];
// Tolerances: half a unit in the last printed digit.
const STAT_TOL = 0.005;
const P_TOL = 0.0005e-7;
const EXPECTED_TOL = 0.05;

/** Likelihood-ratio G² = 2 Σ O ln(O/E): a different statistic that the published X² must tell apart. */
function gSquared(table: number[][]): number {
  const rows = table.map((r) => r.reduce((a, b) => a + b, 0));
  const cols = table[0]!.map((_, j) => table.reduce((a, r) => a + r[j]!, 0));
  const n = rows.reduce((a, b) => a + b, 0);
  let g = 0;
  table.forEach((r, i) => r.forEach((o, j) => { if (o > 0) g += 2 * o * Math.log(o / ((rows[i]! * cols[j]!) / n)); }));
  return g;
}

describe('χ² independence against Agresti (2007) Table 2.5', () => {
  const result = chiSquareIndependence(partyByGender);
  it(`statistic 30.07 ± ${STAT_TOL}, df 2, p 2.954e-7 ± ${P_TOL}`, () => {
    expect(Math.abs(result.statistic! - 30.07)).toBeLessThanOrEqual(STAT_TOL);
    expect(result.df).toBe(2);
    expect(Math.abs(result.pValue! - 2.954e-7)).toBeLessThanOrEqual(P_TOL);
  });
  it(`expected counts within ${EXPECTED_TOL} of the printed ones; no warnings, no notes`, () => {
    result.expected.forEach((row, i) => row.forEach((e, j) => expect(Math.abs(e - publishedExpected[i]![j]!)).toBeLessThanOrEqual(EXPECTED_TOL)));
    expect(result.lowExpectedWarning).toBe(false);
    expect(result.notes).toEqual([]);
    expect(result.grandTotal).toBe(2757);
  });
  it('negative controls: G² (30.02) and the wrong df are both caught by the same tolerances', () => {
    const g = gSquared(partyByGender);
    expect(Math.abs(g - 30.02)).toBeLessThan(0.005); // G² itself matches its own published value
    expect(Math.abs(g - 30.07)).toBeGreaterThan(STAT_TOL);
    // A df formula of r·c − 1 instead of (r − 1)(c − 1):
    const wrongDfP = chiSquareSf(chiSquareIndependence(partyByGender).statistic!, 2 * 3 - 1);
    expect(Math.abs(wrongDfP - 2.954e-7)).toBeGreaterThan(P_TOL);
  });
});

describe('χ² independence: closed form, post-processing and warnings', () => {
  it('a 2 × 2 table gives N(ad − bc)² / (r₁r₂c₁c₂) on 1 df (tolerance 1e-9 relative)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 4, maxLength: 4 }), ([a, b, c, d]) => {
        const n = a! + b! + c! + d!;
        const closed = (n * (a! * d! - b! * c!) ** 2) / ((a! + b!) * (c! + d!) * (a! + c!) * (b! + d!));
        const r = chiSquareIndependence([[a!, b!], [c!, d!]]);
        expect(r.df).toBe(1);
        expect(Math.abs(r.statistic! - closed)).toBeLessThanOrEqual(1e-9 * Math.max(1, closed));
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('drops empty rows and columns, says so, and gives the same test as the reduced table', () => {
    const padded = [
      [762, 0, 327, 468],
      [0, 0, 0, 0],
      [484, 0, 239, 477],
    ];
    const r = chiSquareIndependence(padded);
    const plain = chiSquareIndependence(partyByGender);
    expect(r.droppedRows).toEqual([1]);
    expect(r.droppedColumns).toEqual([1]);
    expect(r.df).toBe(2);
    expect(r.statistic).toBe(plain.statistic);
    expect(r.pValue).toBe(plain.pValue);
    expect(r.expected[1]).toEqual([0, 0, 0, 0]);
    expect(r.notes.join('\n')).toMatch(/empty row\(s\) dropped.*1/);
    expect(r.notes.join('\n')).toMatch(/empty column\(s\) dropped.*1/);
  });

  it('clamps negative noisy cells to 0, keeps non-integers, and states both', () => {
    const r = chiSquareIndependence([
      [10.4, -2.3, 5],
      [3, 7.9, -0.5],
    ]);
    expect(r.observed).toEqual([
      [10.4, 0, 5],
      [3, 7.9, 0],
    ]);
    expect(r.clampedCells).toBe(2);
    expect(r.nonIntegerCells).toBe(4);
    expect(r.notes.some((n) => /clamped to 0/.test(n))).toBe(true);
    expect(r.notes.some((n) => /does not account for DP noise/.test(n))).toBe(true);
    const direct = chiSquareIndependence([
      [10.4, 0, 5],
      [3, 7.9, 0],
    ]);
    expect(r.statistic).toBe(direct.statistic);
  });

  it('a row that is empty only after clamping is dropped too', () => {
    const r = chiSquareIndependence([
      [10, 20],
      [-3, -1],
      [30, 5],
    ]);
    expect(r.droppedRows).toEqual([1]);
    expect(r.df).toBe(1);
  });

  it('flags expected counts below 5 and Cochran violations', () => {
    const r = chiSquareIndependence([
      [3, 1],
      [1, 3],
    ]);
    expect(r.lowExpectedWarning).toBe(true);
    expect(r.cellsExpectedBelowThreshold).toBe(4);
    expect(r.cochranRuleViolated).toBe(true);
    expect(r.minExpected).toBe(2);
    expect(chiSquareIndependence([[50, 50], [50, 50]]).lowExpectedWarning).toBe(false);
    expect(chiSquareIndependence([[3, 1], [1, 3]], { lowExpectedThreshold: 1 }).lowExpectedWarning).toBe(false);
  });

  it('returns a null statistic when fewer than 2 non-empty rows or columns remain', () => {
    const r = chiSquareIndependence([
      [5, 0],
      [7, 0],
    ]);
    expect(r.statistic).toBeNull();
    expect(r.pValue).toBeNull();
    expect(r.df).toBe(0);
    expect(r.notes.some((n) => /no test/.test(n))).toBe(true);
    expect(chiSquareIndependence([[0, 0], [0, 0]]).statistic).toBeNull();
  });

  it('rejects bad tables naming the argument', () => {
    expect(() => chiSquareIndependence([[1, 2]])).toThrow(/table must have at least 2 rows/);
    expect(() => chiSquareIndependence([[1], [2]])).toThrow(/at least 2 columns/);
    expect(() => chiSquareIndependence([[1, 2], [3]])).toThrow(/table\[1\] has 1 columns/);
    expect(() => chiSquareIndependence([[1, Number.NaN], [3, 4]])).toThrow(RangeError);
    expect(() => chiSquareIndependence([[1, Number.NaN], [3, 4]])).toThrow(/table\[0\]\[1\]/);
    expect(() => chiSquareIndependence([[1, '2' as unknown as number], [3, 4]])).toThrow(TypeError);
    expect(() => chiSquareIndependence('x' as unknown as number[][])).toThrow(TypeError);
    expect(() => chiSquareIndependence([[1, 2], [3, 4]], { lowExpectedThreshold: -1 })).toThrow(/options.lowExpectedThreshold/);
  });
});
