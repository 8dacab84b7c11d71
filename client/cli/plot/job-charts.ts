/**
 * Which charts a released result gets: histograms and grouped measures (aggregate), Kaplan–Meier with the number
 * at risk (survival), attrition (cohort), forest plots (glm, survival-cox), training curves (a summary with a
 * `history`). Only released numbers are drawn; a withheld group is not a bar at zero, it is absent. Pure.
 */
import type { JobView } from '../../sdk/types.js';
import { arrayLabels } from '../../sdk/result-table.js';
import { attritionChart, forestChart, groupedBarChart, histogramChart, kaplanMeierChart, trainingChart, type Chart, type KmCurve } from './charts.js';

/** At most this many charts per job: a result with many measures stays readable and cheap to render. */
export const MAX_CHARTS_PER_JOB = 8;

/**
 * At most this many marks (bars, curve points) per chart. Rendering is linear in marks and runs where the dashboard
 * runs, the coordinator: a histogram over 10 000 groups × 30 bins made a 158 MB page after 16 s of CPU, long enough
 * for the agents' heartbeats to lapse (red team 41, B F1). Beyond it a chart shows the first groups (bars) or every
 * n-th time bin (curves), and says so in its title; the CSV and charts.json hold everything.
 */
export const MAX_CHART_MARKS = 2000;

/** The first bars of whole groups up to MAX_CHART_MARKS, and the title's note when some were left out. */
function firstGroups<T extends { group: string | null }>(bars: T[]): { bars: T[]; note: string } {
  if (bars.length <= MAX_CHART_MARKS) return { bars, note: '' };
  // One pass to size the groups (in order of first appearance), one to keep the first whole ones: linear in bars.
  const sizes = new Map<string | null, number>();
  for (const b of bars) sizes.set(b.group, (sizes.get(b.group) ?? 0) + 1);
  const kept = new Set<string | null>();
  let n = 0;
  for (const [g, size] of sizes) {
    if (kept.size > 0 && n + size > MAX_CHART_MARKS) break;
    kept.add(g);
    n += size;
  }
  const out = bars.filter((b) => kept.has(b.group)).slice(0, MAX_CHART_MARKS);
  return { bars: out, note: ` (first ${kept.size} of ${sizes.size} groups; all in the CSV)` };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function groupLabel(row: Record<string, unknown>, groupBy: readonly string[], names: Record<string, string> | undefined): string | null {
  if (groupBy.length === 0) return null;
  return groupBy.map((g) => {
    const v = row[g];
    const name = names && (typeof v === 'number' || typeof v === 'string') ? names[String(v)] : undefined;
    return name ? `${String(v)} ${name}` : String(v);
  }).join(' · ');
}

function aggregateCharts(job: JobView): Chart[] {
  const r = job.result!;
  const spec = job.spec as { groupBy?: string[]; measures?: { fn?: string; column?: string }[] } | undefined;
  const groupBy = spec?.groupBy ?? [];
  const out: Chart[] = [];
  const fields = r.columns.filter((c) => !groupBy.includes(c) && !/_(std|ci95|n|n_std)$/.test(c));
  for (const field of fields) {
    // Charts past the per-job limit are never drawn: not built either (each is linear in the rows).
    if (out.length >= MAX_CHARTS_PER_JOB) break;
    const sample = r.rows.find((row) => row[field] !== null && row[field] !== undefined)?.[field];
    if (Array.isArray(sample)) {
      const m = spec?.measures?.find((x) => `${x.fn}_${x.column}` === field);
      if (m?.fn !== 'histogram') continue;
      const labels = arrayLabels(job, field, sample.length);
      const bars = r.rows.flatMap((row) => {
        const vals = row[field];
        const std = row[`${field}_std`];
        if (!Array.isArray(vals)) return [];
        return vals.flatMap((v, i) => (isNum(v) ? [{ group: groupLabel(row, groupBy, r.conceptNames), bin: labels[i] ?? String(i), order: i, count: v, ...(isNum(std) ? { std } : {}) }] : []));
      });
      const shown = firstGroups(bars);
      out.push(histogramChart(`histogram-${field}`, `Histogram of ${m.column}${shown.note}`, shown.bars));
    } else if (groupBy.length > 0 && isNum(sample)) {
      const bars = r.rows.flatMap((row) => {
        const v = row[field];
        if (!isNum(v)) return [];
        const ci = row[`${field}_ci95`];
        const bounds = Array.isArray(ci) && isNum(ci[0]) && isNum(ci[1]) ? { lower: ci[0], upper: ci[1] } : {};
        return [{ group: groupLabel(row, groupBy, r.conceptNames)!, value: v, ...bounds }];
      });
      const shown = firstGroups(bars);
      out.push(groupedBarChart(`bars-${field}`, `${field} by ${groupBy.join(', ')}${shown.note}`, field, shown.bars));
    }
  }
  return out;
}

function survivalCharts(job: JobView): Chart[] {
  const curves = (job.result?.summary?.curves ?? []) as KmCurve[];
  if (!Array.isArray(curves) || curves.length === 0) return [];
  // A daily grid over 100 years is 36 500 points a curve: drawn at every n-th bin (and the last) beyond the bound.
  const points = curves.reduce((n, c) => n + (Array.isArray(c.times) ? c.times.length : 0), 0);
  const every = Math.ceil(points / MAX_CHART_MARKS);
  const thin = <T>(xs: readonly T[]): T[] => xs.filter((_, i) => i % every === 0 || i === xs.length - 1);
  // Thinned, the number-at-risk table would read a later bin's count at a tick: left out rather than shown wrong.
  const shown = every <= 1 ? curves : curves.map(({ atRisk: _atRisk, ...c }) => ({ ...c, times: thin(c.times), survival: thin(c.survival), lower: thin(c.lower), upper: thin(c.upper) }));
  const note = every <= 1 ? '' : `; every ${every}th time bin drawn, no number-at-risk table; all in the CSV`;
  return [kaplanMeierChart(shown, { title: `Kaplan–Meier (${String(job.result!.privacy.mode ?? '')}${note})`, xLabel: 'days since cohort entry' })];
}

function forest(job: JobView): Chart[] {
  const rows = job.result!.rows;
  if (job.kind === 'glm') {
    const withExp = rows.some((row) => isNum(row.expEstimate));
    const coefs = rows.flatMap((row) => {
      const [e, lo, hi] = withExp ? [row.expEstimate, row.expCi95Lower, row.expCi95Upper] : [row.estimate, row.ci95Lower, row.ci95Upper];
      return isNum(e) && isNum(lo) && isNum(hi) && row.term !== '(Intercept)' ? [{ term: String(row.term), estimate: e, lower: lo, upper: hi }] : [];
    });
    return coefs.length ? [forestChart(withExp ? 'Coefficients (exp scale, 95% CI)' : 'Coefficients (95% CI)', coefs.slice(0, MAX_CHART_MARKS), withExp)] : [];
  }
  const coefs = rows.flatMap((row) => {
    const [e, lo, hi] = [row['exp(coef)'], row['lower .95'], row['upper .95']];
    return isNum(e) && isNum(lo) && isNum(hi) && e > 0 && lo > 0 ? [{ term: String(row.term), estimate: e, lower: lo, upper: hi }] : [];
  });
  return coefs.length ? [forestChart('Hazard ratios (95% CI)', coefs.slice(0, MAX_CHART_MARKS), true)] : [];
}

/** Per-round metric entries of one agent (or the global model when `agent` is absent). */
type MetricEntry = Record<string, unknown>;

/**
 * Per-agent (or global) training metrics a result may carry, in the shapes a train release uses: a list of
 * entries with `round`, an optional `agent` and `loss`/`trainLoss`/`testLoss` (`summary.history`,
 * `summary.perAgent`, `summary.agentMetrics`), or a map from agent name to such a list.
 */
function metricEntries(summary: Record<string, unknown> | undefined): MetricEntry[] {
  const out: MetricEntry[] = [];
  for (const key of ['history', 'perAgent', 'agentMetrics']) {
    const v = summary?.[key];
    if (Array.isArray(v)) out.push(...(v.filter((e) => typeof e === 'object' && e !== null) as MetricEntry[]));
    else if (typeof v === 'object' && v !== null) {
      for (const [agent, list] of Object.entries(v)) if (Array.isArray(list)) for (const e of list) if (typeof e === 'object' && e !== null) out.push({ agent, ...(e as MetricEntry) });
    }
  }
  return out;
}

/**
 * Training curves: a `train` job releases one row per round (global train loss; test loss at eval rounds), drawn as
 * the global curves; per-agent metrics in the summary (see `metricEntries`) are drawn per agent beside them.
 */
function trainingCharts(job: JobView): Chart[] {
  const points: { round: number; series: string; value: number }[] = [];
  if (job.kind === 'train') {
    for (const r of job.result?.rows ?? []) {
      if (!isNum(r.round)) continue;
      if (isNum(r.trainLoss)) points.push({ round: r.round, series: 'train loss (global)', value: r.trainLoss });
      if (isNum(r.testLoss)) points.push({ round: r.round, series: 'test loss (global)', value: r.testLoss });
    }
  }
  for (const h of metricEntries(job.result?.summary as Record<string, unknown> | undefined)) {
    if (!isNum(h.round)) continue;
    const who = typeof h.agent === 'string' ? h.agent.slice(0, 64) : 'global';
    if (isNum(h.loss)) points.push({ round: h.round, series: who, value: h.loss });
    if (isNum(h.trainLoss)) points.push({ round: h.round, series: `train loss (${who})`, value: h.trainLoss });
    if (isNum(h.testLoss)) points.push({ round: h.round, series: `test loss (${who})`, value: h.testLoss });
  }
  if (points.length === 0) return [];
  // At most MAX_CHART_MARKS points: every n-th round of every series beyond it (rounds × agents × 3 series).
  const every = Math.ceil(points.length / MAX_CHART_MARKS);
  return [trainingChart(every <= 1 ? points : points.filter((p) => p.round % every === 0))];
}

/** The charts of a finished job's released result (none for a failed job or a result without drawable numbers). */
export function chartsForJob(job: JobView): Chart[] {
  const r = job.result;
  if (!r || job.state !== 'succeeded') return [];
  const out: Chart[] = [];
  if (job.kind === 'aggregate') out.push(...aggregateCharts(job));
  if (job.kind === 'survival') out.push(...survivalCharts(job));
  if ((job.kind === 'cohort' || job.kind === 'characterize') && Array.isArray(r.summary?.attrition)) {
    const steps = (r.summary.attrition as { rule: string; persons: unknown }[]).flatMap((a) => (isNum(a.persons) ? [{ rule: String(a.rule), persons: a.persons }] : []));
    if (steps.length) out.push(attritionChart(steps));
  }
  if (job.kind === 'glm' || job.kind === 'survival-cox') out.push(...forest(job));
  out.push(...trainingCharts(job));
  return out.slice(0, MAX_CHARTS_PER_JOB);
}
