/**
 * Survival strata from released cells. Exact mode never computes a curve as if a withheld cell were zero: each
 * stratum's curve is released only over the bins whose counts are all known, and says where it stops.
 */
import type { StratumCounts } from '../../algorithms/survival/index.js';
import { survivalTimes } from './cohort-jobs.js';

export interface StrataFromCells {
  /** Strata with a known initial at-risk and at least one exact bin (truncated to their exact bins). */
  strata: StratumCounts[];
  /** Per stratum label: the last time whose S(t) is computed, and the first bin end that was withheld (null: complete). */
  stops: Record<string, { lastTime: number | null; withheldFrom: number | null }>;
  notes: string[];
}

/**
 * Exact-mode strata: a stratum whose person count was withheld has no curve; otherwise its curve runs up to the
 * last bin before the first withheld event or censoring cell. Every bin kept is computed from released counts
 * only, so S(t) there equals the pooled Kaplan–Meier estimate on the same grid.
 */
export function exactStrataFromCells(labels: readonly string[], times: readonly number[], value: (cell: string) => number | null): StrataFromCells {
  const strata: StratumCounts[] = [];
  const stops: StrataFromCells['stops'] = {};
  const notes: string[] = [];
  for (const s of labels) {
    const n = value(`n:${s}`);
    if (n === null) {
      stops[s] = { lastTime: null, withheldFrom: times[0] ?? null };
      notes.push(`stratum ${s}: persons withheld by disclosure control (below the minimum cell size); no curve`);
      continue;
    }
    if (n <= 0) continue;
    let m = times.findIndex((_, i) => value(`e:${s}:${i}`) === null || value(`c:${s}:${i}`) === null);
    if (m === -1) m = times.length;
    stops[s] = { lastTime: m > 0 ? times[m - 1]! : null, withheldFrom: m < times.length ? times[m]! : null };
    if (m < times.length) {
      notes.push(
        m === 0
          ? `stratum ${s}: the first bin's counts were withheld by disclosure control; no curve (a wider timeGrid.binDays pools more persons per bin)`
          : `stratum ${s}: curve released up to t = ${times[m - 1]} days only; the counts of the bin ending at ${times[m]} were withheld by disclosure control, so S(t) after ${times[m - 1]} is not computed (a wider timeGrid.binDays pools more persons per bin)`,
      );
    }
    if (m === 0) continue;
    strata.push({
      label: s,
      times: times.slice(0, m),
      events: times.slice(0, m).map((_, i) => value(`e:${s}:${i}`)!),
      censored: times.slice(0, m).map((_, i) => value(`c:${s}:${i}`)!),
      initialAtRisk: n,
    });
  }
  return { strata, stops, notes };
}

/** The strata cut to their common exact range (a log-rank test compares strata on one grid). */
export function commonPrefix(strata: readonly StratumCounts[]): StratumCounts[] {
  const m = Math.min(...strata.map((s) => s.times.length));
  return strata.map((s) => ({ ...s, times: s.times.slice(0, m), events: s.events.slice(0, m), ...(s.censored ? { censored: s.censored.slice(0, m) } : {}) }));
}

/**
 * Mode none, one stratum of a Kaplan–Meier table: the first bin whose endpoint cells must be withheld, with every later
 * one, so that no at-risk count readable from the released cells is a small cell's (red team 30, F3). The released
 * curve stops at the first withheld bin m, yet n − Σ_{i<m}(e_i + c_i), the persons still at risk there, is readable
 * (the curve prints it), and when it is 1 … k − 1 it is the withheld tail's size. So the cut moves back from m to the
 * last bin j ≤ m whose at-risk count T_j = n − Σ_{i<j}(e_i + c_i) is 0 or at least k: then every prefix of released
 * bins leaves 0 or at least k persons, whatever is withheld after it. m is the first bin with a cell of 1 … k − 1
 * persons (the number of bins when none is; T there counts persons with no endpoint on the grid).
 * @param n persons initially at risk (at least k: a smaller stratum is withheld whole)
 */
export function survivalTailCut(n: number, events: readonly number[], censored: readonly number[], k: number): number {
  const small = (x: number): boolean => x > 0 && x < k;
  let m = events.findIndex((e, i) => small(e) || small(censored[i] ?? 0));
  if (m === -1) m = events.length;
  const atRisk = [n];
  for (let i = 0; i < m; i++) atRisk.push(atRisk[i]! - events[i]! - (censored[i] ?? 0));
  for (let j = m; j > 0; j--) if (atRisk[j] === 0 || atRisk[j]! >= k) return j;
  return 0;
}

/**
 * The endpoint cells the tail rule withholds in a Kaplan–Meier table, per stratum from its `survivalTailCut` on: the
 * non-empty ones (`value` > 0). `value(cell)` is a cell's count, or null for one already withheld (between 1 and
 * k − 1, so the cut falls before it). A stratum whose total is withheld or empty is left as it is. Shared by each
 * agent (plain sums) and the secure release (totals).
 */
export function survivalTailCells(timeGrid: { binDays: number; maxDays: number }, strata: readonly string[], value: (cell: string) => number | null, k: number): string[] {
  const bins = survivalTimes(timeGrid.binDays, timeGrid.maxDays).length;
  const out: string[] = [];
  for (const s of strata) {
    const n = value(`n:${s}`);
    if (n === null || n <= 0) continue;
    const counts = (kind: 'e' | 'c'): number[] => Array.from({ length: bins }, (_, i) => value(`${kind}:${s}:${i}`) ?? 1);
    for (let i = survivalTailCut(n, counts('e'), counts('c'), k); i < bins; i++) {
      for (const cell of [`e:${s}:${i}`, `c:${s}:${i}`]) if ((value(cell) ?? 0) > 0) out.push(cell);
    }
  }
  return out;
}
