/**
 * Small time bins in a Cox model: which bins are merged, and the check an agent makes before it answers.
 *
 * Why bins matter: the risk-set sums of consecutive bins differ by the sums over the persons who *left* the risk
 * set in between (their event or censoring time falls in that bin). If only one person left, S1_k − S1_{k+1} is
 * that person's covariate vector times e^{xβ}, and S0_k − S0_{k+1} gives e^{xβ}: their covariates are disclosed.
 * So every bin of the layout an agent answers for must have, per stratum, either no one leaving or at least the
 * minimum cell size.
 *
 * The merge rule (merge a small bin with the next one, i.e. drop its right end) is applied by the coordinator to
 * **released values only**, so deriving the merged grid is post-processing and releases nothing new. Two forms:
 * {@link mergeSmallBinsByFlags}, used by the survival-cox kind, from summed per-agent flags (was a cell small, was
 * it big) — no counts are released, so no withheld count can be recovered later by differencing merged totals;
 * and {@link mergeSmallBins}, from released counts (the Kaplan–Meier job's exact cells with small ones withheld,
 * or noisy DP counts). The merged grid is then public and fixed for every Newton round. Each agent still checks
 * the grid it is given against its own data ({@link coxBinViolation}) and refuses rather than answer with a small
 * bin: the coordinator is not trusted to have applied the rule.
 */

/** One source of released per-bin counts: an agent × stratum (mode none) or a stratum's noisy total (DP modes). */
export type ReleasedBinCounts = readonly (number | null)[];

/** The merged grid: the kept bin ends, and for every original bin the index of the merged bin it falls in. */
export interface MergedBins {
  times: number[];
  groupOf: number[];
  /** Original bins merged into a later (or, at the end, an earlier) one. */
  merged: number;
}

/**
 * Merges small bins with the next bin, from released counts of persons leaving each bin (events + censorings).
 *
 * A withheld count (null: below the minimum cell size but not zero) counts as 1, the least it can be, and a
 * negative noisy count as 0. A run of bins is closed (its last end kept) once, for every source, its lower bound
 * is at least `minCell` — or it is certainly empty (all released zeros). A trailing run that never closes is
 * merged with the runs before it until it is safe. Times beyond the last end fall in the last bin, as before.
 *
 * @param times the job's public bin ends
 * @param sources released counts per source, one entry per bin
 * @throws RangeError on mismatched lengths or a minCell below 1
 */
export function mergeSmallBins(times: readonly number[], sources: readonly ReleasedBinCounts[], minCell: number): MergedBins {
  const m = times.length;
  if (m === 0) throw new RangeError('times must not be empty');
  if (!Number.isSafeInteger(minCell) || minCell < 1) throw new RangeError(`minCell must be a positive integer, got ${String(minCell)}`);
  sources.forEach((s, i) => {
    if (s.length !== m) throw new RangeError(`sources[${i}] must have ${m} entries (one per bin), got ${s.length}`);
  });
  // Per closed run: its last bin and, per source, the lower bound of persons leaving and whether any was withheld.
  const runs: { end: number; lower: number[]; unknown: boolean[] }[] = [];
  let lower = sources.map(() => 0);
  let unknown = sources.map(() => false);
  const safe = (lo: readonly number[], un: readonly boolean[]): boolean => lo.every((v, i) => v >= minCell || (v === 0 && !un[i]));
  for (let k = 0; k < m; k++) {
    sources.forEach((s, i) => {
      const v = s[k];
      if (v === null || v === undefined) {
        lower[i]! += 1;
        unknown[i] = true;
      } else if (Number.isFinite(v)) {
        lower[i]! += Math.max(0, v);
      }
    });
    if (safe(lower, unknown)) {
      runs.push({ end: k, lower, unknown });
      lower = sources.map(() => 0);
      unknown = sources.map(() => false);
    }
  }
  // A trailing run too small to stand alone joins the runs before it, as many as it takes (an empty run before it
  // does not help), ending at the last bin. If it never becomes safe, everything is one bin.
  if (runs.at(-1)?.end !== m - 1) {
    while (runs.length > 0 && !safe(lower, unknown)) {
      const prev = runs.pop()!;
      lower = lower.map((v, i) => v + prev.lower[i]!);
      unknown = unknown.map((u, i) => u || prev.unknown[i]!);
    }
    runs.push({ end: m - 1, lower, unknown });
  }
  return closeRuns(times, runs.map((r) => r.end));
}

/**
 * The agent's own check of a layout against its data: for every stratum and bin, the number of persons leaving
 * the risk set there (at-risk difference) must be 0 or at least `minCell`; and for every extra count given in
 * `levelCounts` (e.g. persons leaving per level of a categorical covariate) the same. Returns a description of
 * the first violation, or null when the layout is safe. The description names the rule and a public level, never a
 * count, a stratum or a bin: the coordinator chooses the merged grid, and a refusal naming the bin of the small cell
 * told it, grid after grid, in which bin (and stratum) a single person left the risk set (red team 20).
 *
 * @param atRisk persons at risk at the start of each bin, stratum-major (strata × bins), as in CoxStats
 */
export function coxBinViolation(atRisk: ArrayLike<number>, bins: number, strata: number, minCell: number, levelCounts: readonly { name: string; leaving: ArrayLike<number> }[] = []): string | null {
  if (atRisk.length !== bins * strata) throw new RangeError(`atRisk must have strata × bins = ${bins * strata} entries`);
  const bad = (c: number): boolean => c > 0 && c < minCell;
  for (let s = 0; s < strata; s++) {
    for (let k = 0; k < bins; k++) {
      const leaving = atRisk[s * bins + k]! - (k + 1 < bins ? atRisk[s * bins + k + 1]! : 0);
      if (bad(leaving)) return 'in a time bin of this grid fewer persons leave the risk set than the minimum cell size';
    }
  }
  for (const { name, leaving } of levelCounts) {
    if (leaving.length !== bins * strata) throw new RangeError(`levelCounts ${name} must have strata × bins entries`);
    for (let i = 0; i < leaving.length; i++) {
      if (bad(leaving[i]!)) return `${name}: in a time bin of this grid fewer persons of this level leave the risk set than the minimum cell size`;
    }
  }
  return null;
}

/**
 * Per bin and row (a stratum, or a stratum × covariate level), how many agents had a small cell (0 < count <
 * minimum cell size) and how many a big one (≥ it) — summed flags, no counts.
 */
export interface BinFlags {
  small: readonly number[];
  big: readonly number[];
}

/**
 * The merge rule from summed flags only (no counts are released, so nothing can be recovered by difference): a
 * run of bins is closed at bin k when, for every row, either every agent had a big cell in bin k, or no agent had
 * anyone in the run so far. Every closed run then holds, at every agent and for every row, either nobody or at
 * least the minimum cell size. A trailing run that never closes joins the runs before it until one that closed on
 * big cells is included (or everything is one bin).
 * @throws RangeError on mismatched lengths or agents < 1
 */
export function mergeSmallBinsByFlags(times: readonly number[], rows: readonly BinFlags[], agents: number): MergedBins {
  const m = times.length;
  if (m === 0) throw new RangeError('times must not be empty');
  if (!Number.isSafeInteger(agents) || agents < 1) throw new RangeError(`agents must be a positive integer, got ${String(agents)}`);
  rows.forEach((r, i) => {
    if (r.small.length !== m || r.big.length !== m) throw new RangeError(`rows[${i}] must have ${m} small and big flags (one per bin)`);
  });
  const runs: { end: number; onBig: boolean[] }[] = [];
  let seen = rows.map(() => false);
  for (let k = 0; k < m; k++) {
    seen = seen.map((s, i) => s || rows[i]!.small[k]! > 0 || rows[i]!.big[k]! > 0);
    const onBig = rows.map((r) => r.big[k]! >= agents);
    if (rows.every((_, i) => onBig[i] || !seen[i])) {
      runs.push({ end: k, onBig });
      seen = rows.map(() => false);
    }
  }
  if (runs.at(-1)?.end !== m - 1) {
    // Rows with someone in the trailing run need a run before it that closed on big cells for them.
    const need = seen;
    while (runs.length > 0) {
      const prev = runs.pop()!;
      if (need.every((n, i) => !n || prev.onBig[i])) break;
    }
    runs.push({ end: m - 1, onBig: rows.map(() => false) });
  }
  return closeRuns(times, runs.map((r) => r.end));
}

/** The merged grid of runs of bins that close at `closeAt` (ascending bin indices, the last one m − 1). */
function closeRuns(times: readonly number[], closeAt: readonly number[]): MergedBins {
  const m = times.length;
  const groupOf: number[] = [];
  let g = 0;
  for (let k = 0; k < m; k++) {
    groupOf.push(g);
    if (k === closeAt[g]) g++;
  }
  return { times: closeAt.map((k) => times[k]!), groupOf, merged: m - closeAt.length };
}
