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
      out.push(histogramChart(`histogram-${field}`, `Histogram of ${m.column}`, bars));
    } else if (groupBy.length > 0 && isNum(sample)) {
      const bars = r.rows.flatMap((row) => {
        const v = row[field];
        if (!isNum(v)) return [];
        const ci = row[`${field}_ci95`];
        const bounds = Array.isArray(ci) && isNum(ci[0]) && isNum(ci[1]) ? { lower: ci[0], upper: ci[1] } : {};
        return [{ group: groupLabel(row, groupBy, r.conceptNames)!, value: v, ...bounds }];
      });
      out.push(groupedBarChart(`bars-${field}`, `${field} by ${groupBy.join(', ')}`, field, bars));
    }
  }
  return out;
}

function survivalCharts(job: JobView): Chart[] {
  const curves = (job.result?.summary?.curves ?? []) as KmCurve[];
  if (!Array.isArray(curves) || curves.length === 0) return [];
  return [kaplanMeierChart(curves, { title: `Kaplan–Meier (${String(job.result!.privacy.mode ?? '')})`, xLabel: 'days since cohort entry' })];
}

function forest(job: JobView): Chart[] {
  const rows = job.result!.rows;
  if (job.kind === 'glm') {
    const withExp = rows.some((row) => isNum(row.expEstimate));
    const coefs = rows.flatMap((row) => {
      const [e, lo, hi] = withExp ? [row.expEstimate, row.expCi95Lower, row.expCi95Upper] : [row.estimate, row.ci95Lower, row.ci95Upper];
      return isNum(e) && isNum(lo) && isNum(hi) && row.term !== '(Intercept)' ? [{ term: String(row.term), estimate: e, lower: lo, upper: hi }] : [];
    });
    return coefs.length ? [forestChart(withExp ? 'Coefficients (exp scale, 95% CI)' : 'Coefficients (95% CI)', coefs, withExp)] : [];
  }
  const coefs = rows.flatMap((row) => {
    const [e, lo, hi] = [row['exp(coef)'], row['lower .95'], row['upper .95']];
    return isNum(e) && isNum(lo) && isNum(hi) && e > 0 && lo > 0 ? [{ term: String(row.term), estimate: e, lower: lo, upper: hi }] : [];
  });
  return coefs.length ? [forestChart('Hazard ratios (95% CI)', coefs, true)] : [];
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
  return points.length ? [trainingChart(points)] : [];
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
