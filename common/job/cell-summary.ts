/**
 * The pure release step of cohort-level jobs: released cell values (exact or noisy, with their noise std) → the
 * kind's rows and summary (breakdowns and attrition, prevalences, Kaplan–Meier curves with Greenwood bands and a
 * log-rank test, the contingency table with its chi-square test). Shared by the coordinator (plaintext and SecAgg
 * jobs) and the researcher's client (HE jobs, which it decrypts itself).
 */
import { chiSquareIndependence } from '../../algorithms/stats/index.js';
import { kaplanMeier, logRankTest, type StratumCounts } from '../../algorithms/survival/index.js';
import { commonPrefix, exactStrataFromCells } from './survival-summary.js';
import { ageBandLabelsFor, GENDER_LABELS, GENDER_LEVELS, SURVIVAL_STRATA, survivalTimes } from './cohort-jobs.js';
import type { CellJob } from './spec.js';

/** One released cell: null when suppressed; std is the noise standard deviation (0 when exact). */
export interface ReleasedCell {
  value: number | null;
  std: number;
}

export interface CellSummary {
  columns: string[];
  rows: Record<string, unknown>[];
  summary: Record<string, unknown>;
  notes: string[];
}

/**
 * Runs one post-processing step totally: a step that cannot be computed on these released values (a degenerate
 * table or curve) yields undefined and a note instead of failing a job that was already computed and charged.
 * Only the argument errors the pure steps document are absorbed; anything else is a bug and propagates.
 */
function totalStep<T>(name: string, notes: string[], step: () => T): T | undefined {
  try {
    return step();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) {
      notes.push(`${name} not computed: the released values are degenerate for it`);
      return undefined;
    }
    throw e;
  }
}

/** Builds the rows and summary of a cohort-level job from its released cells. `byAgent` only where per-agent counts were seen. */
export function summariseCells(job: CellJob, cell: ReadonlyMap<string, ReleasedCell>, ruleNames: readonly string[], byAgent: { agent: string; persons: number | null }[] | undefined): CellSummary {
  const v = (n: string): number | null => cell.get(n)?.value ?? null;
  const sd = (n: string): number => cell.get(n)?.std ?? 0;
  const withStd = (o: Record<string, unknown>, name: string, field: string): Record<string, unknown> => (job.privacy.mode === 'none' ? o : { ...o, [`${field}_std`]: sd(name) });
  if (job.kind === 'cohort' || job.kind === 'characterize') {
    const bands = ageBandLabelsFor(job.ageBands).map((b) => withStd({ band: b, count: v(`age:${b}`) }, `age:${b}`, 'count'));
    const genders = GENDER_LEVELS.map((g) => withStd({ gender_concept_id: g, gender: GENDER_LABELS[g], count: v(`gender:${g}`) }, `gender:${g}`, 'count'));
    const summary: Record<string, unknown> = { count: v('persons'), ...(job.privacy.mode === 'none' ? {} : { count_std: sd('persons') }), byAgeBand: bands, byGender: genders };
    if (byAgent) summary.byAgent = byAgent;
    if (job.kind === 'cohort') {
      if (job.privacy.mode === 'none') summary.entries = v('entries');
      summary.attrition = [withStd({ rule: '(qualifying events)', persons: v('qualified') }, 'qualified', 'persons'), ...ruleNames.map((r, i) => withStd({ rule: r, persons: v(`rule:${i}`) }, `rule:${i}`, 'persons'))];
    } else {
      const persons = v('persons');
      const prev = (n: number | null): number | null => (n === null || persons === null || persons <= 0 ? null : Math.min(1, Math.max(0, n / persons)));
      summary.conditions = job.conditionConcepts.map((c) => withStd({ concept_id: c, persons: v(`condition:${c}`), prevalence: prev(v(`condition:${c}`)) }, `condition:${c}`, 'persons'));
      summary.drugs = job.drugConcepts.map((c) => withStd({ concept_id: c, persons: v(`drug:${c}`), prevalence: prev(v(`drug:${c}`)) }, `drug:${c}`, 'persons'));
    }
    const rows = [{ count: v('persons'), ...(job.privacy.mode === 'none' ? { entries: v('entries') } : { count_std: sd('persons') }) }];
    return { columns: Object.keys(rows[0]!), rows, summary, notes: job.privacy.mode === 'none' ? [] : ['prevalence = noisy persons with the concept / noisy cohort persons, clamped to [0, 1]'] };
  }
  if (job.kind === 'survival') {
    const times = survivalTimes(job.timeGrid.binDays, job.timeGrid.maxDays);
    const labels = SURVIVAL_STRATA[job.strata];
    const exact = job.privacy.mode === 'none' ? exactStrataFromCells(labels, times, v) : undefined;
    // DP modes: every cell is released (noisy), none withheld.
    const strata: StratumCounts[] = exact?.strata ?? labels.map((s) => ({
      label: s,
      times,
      events: times.map((_, i) => v(`e:${s}:${i}`) ?? 0),
      censored: times.map((_, i) => v(`c:${s}:${i}`) ?? 0),
      initialAtRisk: Math.max(0, v(`n:${s}`) ?? 0),
    }));
    const kept = strata.filter((s) => (s.initialAtRisk ?? 0) > 0);
    const endpointSd = job.privacy.mode === 'none' ? 0 : sd(`e:${labels[0]}:0`);
    const stepNotes: string[] = [];
    const curves = kept.flatMap((s) => {
      const c = totalStep(`Kaplan–Meier curve of stratum ${s.label}`, stepNotes, () => kaplanMeier(s, { endpointNoiseVariance: endpointSd * endpointSd }));
      return c ? [c] : [];
    });
    const logRankStrata = exact ? commonPrefix(kept) : kept;
    const logRank = kept.length >= 2 && (logRankStrata[0]?.times.length ?? 0) > 0 ? totalStep('log-rank test', stepNotes, () => logRankTest(logRankStrata)) : undefined;
    if (kept.length < 2 && strata.length >= 2) stepNotes.push('log-rank test not computed: fewer than 2 strata with persons at risk');
    const dpNotes = job.privacy.mode !== 'none' && logRank ? ['log-rank p-value is approximate under DP: it treats the post-processed noisy counts as exact (the noise adds variance it does not count), so it is anti-conservative when the noise std is not small next to the expected events'] : [];
    const exactNotes = [...dpNotes, ...(exact?.notes ?? []), ...(exact && logRank && logRankStrata[0]!.times.length < times.length ? [`log-rank test over t ≤ ${logRankStrata[0]!.times.at(-1)} days, the range where every stratum's curve is exact`] : [])];
    const noisy = job.privacy.mode !== 'none';
    const rows = curves.map((c) => ({
      stratum: c.label,
      persons: kept.find((s) => s.label === c.label)!.initialAtRisk,
      ...(noisy ? { persons_std: sd(`n:${c.label}`) } : {}),
      median: c.median.estimate,
      medianLower: c.median.lower,
      medianUpper: c.median.upper,
    }));
    return {
      columns: ['stratum', 'persons', ...(noisy ? ['persons_std'] : []), 'median', 'medianLower', 'medianUpper'],
      rows,
      summary: {
        // In the DP modes: the noise std of each released event/censoring count (one block, one std).
        ...(noisy ? { endpoints_std: sd(`e:${SURVIVAL_STRATA[job.strata][0]}:0`) } : {}),
        curves: curves.map((c) => ({ label: c.label, ...(exact ? { releasedUpTo: exact.stops[c.label!]?.lastTime ?? null, withheldFrom: exact.stops[c.label!]?.withheldFrom ?? null } : {}), times: c.times, atRisk: c.atRisk, events: c.events, censored: c.censored, survival: c.survival, lower: c.lower, upper: c.upper, stdErr: c.stdErr, median: c.median })), ...(logRank ? { logRank: { statistic: logRank.statistic, df: logRank.df, pValue: logRank.pValue, ...(job.privacy.mode !== 'none' ? { pValueApproximate: true } : {}), observed: logRank.observed, expected: logRank.expected } } : {}) },
      notes: [...new Set([...exactNotes, ...curves.flatMap((c) => c.notes), ...stepNotes])],
    };
  }
  const table = job.rowLevels.map((_, r) => job.colLevels.map((_, c) => v(`cell:${r}:${c}`)));
  const chiNotes: string[] = [];
  const suppressed = table.some((row) => row.some((x) => x === null));
  if (suppressed) chiNotes.push('chi-square not computed: a cell was suppressed');
  const chi = suppressed ? undefined : totalStep('chi-square', chiNotes, () => chiSquareIndependence(table as number[][]));
  const rows = job.rowLevels.map((lvl, r) => ({ [job.rowColumn]: lvl, ...Object.fromEntries(job.colLevels.map((c, ci) => [String(c), table[r]![ci]])) }));
  return {
    columns: [job.rowColumn, ...job.colLevels.map(String)],
    rows,
    summary: { table, rowLevels: job.rowLevels, colLevels: job.colLevels, outside: v('outside'), ambiguous: v('ambiguous'), ...(job.privacy.mode === 'none' ? {} : { cell_std: sd('cell:0:0') }), ...(chi ? { chiSquare: { statistic: chi.statistic, df: chi.df, pValue: chi.pValue, ...(job.privacy.mode !== 'none' ? { pValueApproximate: true } : {}), lowExpectedWarning: chi.lowExpectedWarning, notes: chi.notes } } : {}) },
    notes: [...chiNotes, ...(chi && job.privacy.mode !== 'none' ? ['chi-square p-value is approximate under DP: it treats the noisy cell counts as exact (the noise adds variance it does not count)'] : [])],
  };
}
