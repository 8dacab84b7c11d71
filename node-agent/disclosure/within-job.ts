/**
 * Secondary suppression between the cells of one mode-none job (red team 9, F3). The differencing guard
 * (released-cells.ts) compares a job's cells with those released to the same researcher *earlier*; inside one job the
 * designed structures get complementary suppression instead (common/kinds/selection.ts: the attrition chain, the age
 * bands and genders against the cohort). Concept cells have no such structure: a characterisation that lists a
 * concept and its descendant (the descendant's persons are a subset), or a concept that nearly every person of the
 * cohort has, releases two counts of k or more whose difference is a cell of 1 … k − 1 persons — "has the ancestor
 * but not the descendant", "in the cohort without the condition" — that the minimum cell size would have withheld
 * had it been asked directly.
 *
 * The rule, at each agent before anything leaves: a *free* cell (one outside every designed structure: a concept)
 * whose person set differs from a cell still released — a structural cell, or a free cell earlier in the job's order
 * — by 1 … k − 1 persons (symmetric difference, as the guard measures it) is withheld. Free cells are taken in the
 * job's order, so the outcome is deterministic and the earlier (e.g. the ancestor, listed first) is the one kept. A
 * withheld cell is not remembered by the guard (it never leaves). Pairs of two structural cells are left to the
 * structures' own rules, which the goldens pin. A structural cell those rules will withhold after the step (a band
 * withheld so that the cohort minus the released bands does not give a small band back) is not kept, and a free
 * cell within 0 … k − 1 persons of it is withheld too, or it would give that band back (red team 10, F3); the step
 * predicts those cells by running the same rules on its exact values (jobs/cohort/cells-agent.ts).
 *
 * Exact sizes from the candidates' keyed hashes: |A Δ B| = |A| + |B| − 2|A ∩ B| ≥ ||A| − |B||, so only pairs whose
 * sizes differ by less than k can be close, and only those pairs' persons are joined (cells that share nobody differ
 * by at least 2k, both being candidates of ≥ k persons). The cost is Σ over such pairs of (|A| + |B|): linear in the
 * job's (cell, person) pairs when sizes spread out, quadratic in the number of cells in the worst case (every concept
 * of one size). A job past the round's deadline fails that round; it cannot crash or hang the agent.
 *
 * What it does not close (red team 10): differences of *sums* of cells — an ancestor minus two disjoint
 * descendants listed with it, the persons minus two disjoint concepts, two age bands minus a concept — since it
 * compares one pair at a time, as the cross-job guard does. Use a DP mode where such sums matter.
 *
 * Not here: a secure (masked or encrypted) mode-none sum cannot carry a withheld marker; there the release (the
 * coordinator's for secagg, the researcher's client for HE) applies a rule on the totals instead (common/secure/cell-layout.ts, withholdCloseConceptTotals: each
 * concept against the cohort and the earlier concepts). The DP modes need none of this (noise protects every cell).
 */
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * The pure half: which free cells to withhold.
 * @param order every candidate cell (≥ k persons) in the job's order; structural cells are kept as they are
 * @param isFree whether a cell is outside every designed structure
 * @param close pairs of candidate cells whose person sets differ by 1 … k − 1 (either order, duplicates allowed)
 * @param later structural cells the complementary rules will withhold after this step (selection.ts): not kept, and
 *   a free cell within 0 … k − 1 persons of one (`closeToLater`) is withheld too, or it would give that cell back
 *   (red team 10, F3: a concept equal to a band withheld to protect a small band)
 * @param closeToLater free cells within 0 … k − 1 persons of a cell in `later`
 */
export function freeCellsToWithhold(order: readonly string[], isFree: (cell: string) => boolean, close: readonly (readonly [string, string])[], later: ReadonlySet<string> = new Set(), closeToLater: ReadonlySet<string> = new Set()): Set<string> {
  const near = new Map<string, Set<string>>();
  for (const [a, b] of close) {
    if (a === b) continue;
    if (!near.has(a)) near.set(a, new Set());
    if (!near.has(b)) near.set(b, new Set());
    near.get(a)!.add(b);
    near.get(b)!.add(a);
  }
  const kept = new Set(order.filter((c) => !isFree(c) && !later.has(c)));
  const withheld = new Set<string>();
  for (const c of order) {
    if (!isFree(c)) continue;
    const n = near.get(c);
    if (closeToLater.has(c) || (n && [...n].some((d) => kept.has(d)))) withheld.add(c);
    else kept.add(c);
  }
  return withheld;
}

/** A SQL string literal. */
function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * Applies the rule to the guard's candidate table `(cell, h)` (distinct rows) in the agent's DuckDB: finds the close
 * pairs with at least one free cell, decides, and deletes the withheld cells' rows from the table, so that the
 * cross-job guard neither compares nor remembers them.
 * @param freePrefixes a cell is free when its name starts with one of these (e.g. `condition:`, `drug:`)
 * @param order the job's cells in order (names not among the candidates are ignored)
 * @param later structural cells the complementary rules will withhold after this step (see freeCellsToWithhold)
 * @returns the withheld cells
 */
export async function withholdCloseFreeCells(conn: DuckDBConnection, candidates: string, minCellSize: number, freePrefixes: readonly string[], order: readonly string[], later: ReadonlySet<string> = new Set()): Promise<Set<string>> {
  if (freePrefixes.length === 0 || minCellSize <= 1) return new Set();
  const cand = `"${candidates.replace(/"/g, '')}"`;
  const free = (col: string): string => `(${freePrefixes.map((p) => `starts_with(${col}, ${literal(p)})`).join(' OR ')})`;
  const rows = (
    await conn.runAndReadAll(
      `WITH sizes AS (SELECT cell, count(*)::BIGINT AS n FROM ${cand} GROUP BY cell),
            near AS (SELECT x.cell AS a, y.cell AS b, x.n AS na, y.n AS nb FROM sizes x JOIN sizes y ON x.cell <> y.cell AND abs(x.n - y.n) < $1 WHERE ${free('x.cell')}),
            shared AS (SELECT p.a, p.b, any_value(p.na) AS na, any_value(p.nb) AS nb, count(*)::BIGINT AS i
                         FROM near p JOIN ${cand} ca ON ca.cell = p.a JOIN ${cand} cb ON cb.cell = p.b AND cb.h = ca.h GROUP BY p.a, p.b)
       SELECT a, b, na + nb - 2 * i AS diff FROM shared WHERE na + nb - 2 * i BETWEEN 0 AND $1 - 1`,
      [minCellSize],
    )
  ).getRowObjectsJS();
  if (rows.length === 0) return new Set();
  const present = new Set((await conn.runAndReadAll(`SELECT DISTINCT cell FROM ${cand}`)).getRowObjectsJS().map((r) => String(r['cell'])));
  const isFree = (c: string): boolean => freePrefixes.some((p) => c.startsWith(p));
  // Every candidate takes part: the job's order first, then (defensively) any candidate it does not name, by name.
  const listed = order.filter((c) => present.has(c));
  const rest = [...present].filter((c) => !listed.includes(c)).sort();
  const pairs = rows.map((r) => ({ a: String(r['a']), b: String(r['b']), diff: Number(r['diff']) }));
  const withheld = freeCellsToWithhold(
    [...listed, ...rest],
    isFree,
    pairs.filter((p) => p.diff >= 1).map((p) => [p.a, p.b] as const),
    later,
    new Set(pairs.filter((p) => later.has(p.b)).map((p) => p.a)),
  );
  if (withheld.size > 0) await conn.run(`DELETE FROM ${cand} WHERE cell IN (${[...withheld].map(literal).join(', ')})`);
  return withheld;
}
