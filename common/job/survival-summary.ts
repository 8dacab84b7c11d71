/**
 * Survival strata from released cells. Exact mode never computes a curve as if a withheld cell were zero: each
 * stratum's curve is released only over the bins whose counts are all known, and says where it stops.
 */
import type { StratumCounts } from '../../algorithms/survival/index.js';

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
