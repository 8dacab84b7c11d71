/**
 * Mode none disclosure control of one contingency table (pure): which places — the r × c cells, then `outside` and
 * `ambiguous` — are withheld. The places split exactly the persons that pass the job's `where`, and a researcher can
 * learn that total, each row's and each column's from an ordinary count with the same filter, so withholding the
 * small cells alone is not enough (red team 41):
 *
 * 1. a place of 1 … k − 1 persons is withheld (the small-cell rule);
 * 2. a line (the whole table, a row, a column) whose persons number 1 … k − 1 is withheld whole, zeros included: next
 *    to a withheld cell an empty one tells which category those few persons are in (F1: one person born in 1970,
 *    `[[null, 0, 0], [0, 0, 0]]`, read as male with HIV);
 * 3. complementary suppression: while a line's withheld places add up to 1 … k − 1 persons, its smallest released
 *    non-empty place is withheld too (F2: a row total from a count minus the row's released cells gave a withheld
 *    cell of 2 back). A row's or column's total may include persons outside the other variable's levels, which the
 *    table does not show; the rule assumes the researcher knows the total anyway.
 *
 * Used by every agent on its own counts (plain sums) and by the release on the totals of a secure sum.
 */

/**
 * @param values the places in vector order (row-major cells, then outside, ambiguous); null = already withheld
 * @returns which places to withhold (true), the same length
 */
export function contingencyWithheld(values: readonly (number | null)[], rows: number, cols: number, minCellSize: number): boolean[] {
  const n = rows * cols + 2;
  if (values.length !== n) throw new RangeError(`contingencyWithheld: expected ${n} places, got ${values.length}`);
  const k = minCellSize;
  const v = values.map((x) => x ?? 0);
  const hide = values.map((x, i) => x === null || (v[i]! > 0 && v[i]! < k));
  const small = (s: number): boolean => s > 0 && s < k;
  const table = Array.from({ length: n }, (_, i) => i);
  const lines: number[][] = [
    table,
    ...Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => r * cols + c)),
    ...Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, r) => r * cols + c)),
  ];
  // Rule 2: a line of few persons, whole.
  for (const line of lines) {
    if (small(line.reduce((s, i) => s + v[i]!, 0))) for (const i of line) hide[i] = true;
  }
  // Rule 3, to a fixed point (each pass withholds at least one more place, so at most n passes).
  for (let changed = true; changed; ) {
    changed = false;
    for (const line of lines) {
      const hidden = line.reduce((s, i) => s + (hide[i] ? v[i]! : 0), 0);
      if (!small(hidden)) continue;
      const smallest = line.filter((i) => !hide[i] && v[i]! > 0).sort((a, b) => v[a]! - v[b]! || a - b)[0];
      if (smallest !== undefined) {
        hide[smallest] = true;
        changed = true;
      }
    }
  }
  return hide;
}
