/**
 * Mode none disclosure control of one contingency table (pure): which places — the r × c cells, then `outside` and
 * `ambiguous` — are withheld. DataSHIELD's rule for `ds.table`: when any place holds 1 … k − 1 persons, the whole
 * table is withheld, zeros included; otherwise it is released whole.
 *
 * Why not cell suppression: the places split exactly the persons that pass the job's `where`, and a researcher can
 * learn that total, each row's and each column's from ordinary counts. Withholding small cells and a complement per
 * line (red team 41) still left one table plus two line totals to give a cell of 3 back (red team 42: a complement
 * withheld for one line was the only withheld cell of another). Protecting a table against all its margins needs an
 * audit of every small cell's feasible range (linear programming, as τ-Argus does); until that exists, a table with
 * a small place shows nothing, and a zero beside a withheld cell (red team 41, F1) cannot arise.
 *
 * Used by every agent on its own counts (plain sums) and by the release on the totals of a secure sum.
 */

/**
 * @param values the places in vector order (row-major cells, then outside, ambiguous); null = already withheld
 * @returns which places to withhold (true), the same length: all or none
 */
export function contingencyWithheld(values: readonly (number | null)[], rows: number, cols: number, minCellSize: number): boolean[] {
  const n = rows * cols + 2;
  if (values.length !== n) throw new RangeError(`contingencyWithheld: expected ${n} places, got ${values.length}`);
  const small = values.some((x) => x === null || (x > 0 && x < minCellSize));
  return values.map(() => small);
}
