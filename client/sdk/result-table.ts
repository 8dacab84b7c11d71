import type { JobView } from './types.js';
import { withConceptNames } from './concept-names.js';

/** One flat table of a job's result: the shape CSV, Parquet and Arrow files hold. */
export interface FlatTable {
  columns: string[];
  rows: Record<string, string | number | boolean | null>[];
}

type Scalar = string | number | boolean | null;
const scalar = (v: unknown): Scalar => (v === null || v === undefined ? null : typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : JSON.stringify(v));

interface MeasureSpec {
  fn?: string;
  column?: string;
  bins?: number[];
  quantiles?: number[];
}

/** Labels of the cells of an array-valued field: histogram bins by their edges `[lo, hi)`, quantiles by q. */
export function arrayLabels(job: Pick<JobView, 'spec'>, field: string, length: number): string[] {
  const measures = ((job.spec as { measures?: MeasureSpec[] } | undefined)?.measures ?? []) as MeasureSpec[];
  const base = field.replace(/_(std|ci95)$/, '');
  const m = measures.find((x) => `${x.fn}_${x.column}` === base);
  if (m?.fn === 'histogram' && m.bins && m.bins.length === length + 1) return m.bins.slice(0, -1).map((lo, i) => `[${lo}, ${m.bins![i + 1]})`);
  if (m?.fn === 'quantile' && m.quantiles && m.quantiles.length === length) return m.quantiles.map((q) => `q${q}`);
  return Array.from({ length }, (_, i) => String(i));
}

/**
 * Flattens a result into one table: aggregate rows with array fields (histograms, quantiles) spread into one
 * column per cell named by its bin edges or quantile; survival curves in long form (one row per stratum × time);
 * a contingency table in long form; cohort and characterise breakdowns as (section, label, persons) rows.
 */
export function resultTable(view: JobView): FlatTable {
  // Names beside concept ids (group columns, characterisation concepts, contingency levels) where the result has them.
  const job = withConceptNames(view);
  const t = flatResult(job);
  const r = job.result;
  if (r?.complete !== false) return t;
  // A partial result carries it on every row, so no file written from it can lose the fact.
  const missing = (r.agentsMissing ?? []).map((m) => `${m.agent} (${m.reason})`).join('; ');
  return { columns: [...t.columns, 'complete', 'agents_missing'], rows: t.rows.map((row) => ({ ...row, complete: false, agents_missing: missing })) };
}

function flatResult(job: JobView): FlatTable {
  const r = job.result;
  if (!r) return { columns: [], rows: [] };
  const s = r.summary;
  if (s && job.kind === 'survival') {
    const curves = (s.curves ?? []) as Record<string, unknown>[];
    const cols = ['stratum', 'time', 'atRisk', 'events', 'censored', 'survival', 'lower', 'upper'];
    const rows: FlatTable['rows'] = [];
    for (const c of curves) {
      const times = (c.times ?? []) as unknown[];
      times.forEach((t, i) => {
        const row: FlatTable['rows'][number] = { stratum: scalar(c.label), time: scalar(t) };
        for (const k of cols.slice(2)) row[k] = scalar(Array.isArray(c[k]) ? (c[k] as unknown[])[i] : undefined);
        rows.push(row);
      });
    }
    return { columns: cols, rows };
  }
  if (s && job.kind === 'contingency') {
    const t = (s.table ?? []) as unknown[][];
    const rowLevels = (s.rowLevels ?? []) as unknown[];
    const colLevels = (s.colLevels ?? []) as unknown[];
    const rowNames = s.rowLevelNames as unknown[] | undefined;
    const colNames = s.colLevelNames as unknown[] | undefined;
    const rows: FlatTable['rows'] = [];
    rowLevels.forEach((rl, i) =>
      colLevels.forEach((cl, j) =>
        rows.push({ row: scalar(rl), ...(rowNames ? { row_name: scalar(rowNames[i]) } : {}), column: scalar(cl), ...(colNames ? { column_name: scalar(colNames[j]) } : {}), persons: scalar(t[i]?.[j]) }),
      ),
    );
    return { columns: ['row', ...(rowNames ? ['row_name'] : []), 'column', ...(colNames ? ['column_name'] : []), 'persons'], rows };
  }
  if (s && (job.kind === 'cohort' || job.kind === 'characterize')) {
    const rows: FlatTable['rows'] = [{ section: 'total', label: 'persons', concept_id: null, concept_name: null, persons: scalar(s.count), persons_std: scalar(s.count_std), prevalence: null }];
    const push = (section: string, label: unknown, persons: unknown, std: unknown, extra: { concept_id?: unknown; concept_name?: unknown; prevalence?: unknown } = {}): void => {
      rows.push({ section, label: scalar(label), concept_id: scalar(extra.concept_id), concept_name: scalar(extra.concept_name), persons: scalar(persons), persons_std: scalar(std), prevalence: scalar(extra.prevalence) });
    };
    for (const a of (s.attrition ?? []) as Record<string, unknown>[]) push('attrition', a.rule, a.persons, a.persons_std);
    for (const b of (s.byAgeBand ?? []) as Record<string, unknown>[]) push('age band', b.band, b.count, b.count_std);
    for (const g of (s.byGender ?? []) as Record<string, unknown>[]) push('gender', g.gender, g.count, g.count_std, { concept_id: g.gender_concept_id, concept_name: g.concept_name ?? g.gender });
    for (const a of (s.byAgent ?? []) as Record<string, unknown>[]) push('agent', a.agent, a.persons, undefined);
    for (const key of ['conditions', 'drugs']) {
      for (const c of (s[key] ?? []) as Record<string, unknown>[]) push(key, c.concept_name ?? c.concept_id, c.persons, c.persons_std, { concept_id: c.concept_id, concept_name: c.concept_name, prevalence: c.prevalence });
    }
    return { columns: ['section', 'label', 'concept_id', 'concept_name', 'persons', 'persons_std', 'prevalence'], rows };
  }
  // Aggregate rows: spread array fields.
  const widths = new Map<string, number>();
  for (const row of r.rows) for (const c of r.columns) if (Array.isArray(row[c])) widths.set(c, Math.max(widths.get(c) ?? 0, (row[c] as unknown[]).length));
  const columns: string[] = [];
  const spread = new Map<string, string[]>();
  for (const c of r.columns) {
    const w = widths.get(c);
    if (w === undefined) columns.push(c);
    else {
      const names = arrayLabels(job, c, w).map((l) => `${c} ${l}`);
      spread.set(c, names);
      columns.push(...names);
    }
  }
  const rows = r.rows.map((row) => {
    const out: FlatTable['rows'][number] = {};
    for (const c of r.columns) {
      const names = spread.get(c);
      if (!names) out[c] = scalar(row[c]);
      else names.forEach((n, i) => (out[n] = scalar((row[c] as unknown[] | undefined)?.[i])));
    }
    return out;
  });
  return { columns, rows };
}
