/**
 * Concept names next to concept ids in what the researcher sees (issue 14 item 9). The coordinator sends
 * `result.conceptNames` (id → name) for the concept ids a released result shows; this adds a name beside each id:
 * `<x>_concept_name` after a `<x>_concept_id` group column, `concept_name` in characterisation and gender
 * breakdowns, level names on a contingency table's concept axes. Without names the result is returned as it came.
 */
import { asConceptId, isConceptColumn } from '../../common/job/index.js';
import type { JobView } from './types.js';

type Result = NonNullable<JobView['result']>;

/** `gender_concept_id` → `gender_concept_name`; `concept_id` → `concept_name`. */
export function conceptNameColumn(column: string): string {
  return column.replace(/_id$/, '_name');
}

/** The name of a concept id, if the result carries one. */
export function conceptName(names: Readonly<Record<string, string>> | undefined, id: unknown): string | null {
  const n = asConceptId(id);
  return n === undefined || !names ? null : (names[String(n)] ?? null);
}

/** Cuts `name` to `max` characters, the last one an ellipsis when cut. */
export function truncateName(name: string, max: number): string {
  if (max < 1) return '';
  const chars = [...name];
  return chars.length <= max ? name : `${chars.slice(0, max - 1).join('')}…`;
}

function groupColumns(job: JobView): string[] {
  const g = (job.spec as { groupBy?: unknown } | undefined)?.groupBy;
  return Array.isArray(g) ? g.filter((c): c is string => typeof c === 'string' && isConceptColumn(c)) : [];
}

/** Inserts `<col>_name` after each concept column `col` of rows and columns (idempotent). */
function nameColumns(r: Result, cols: readonly string[], names: Readonly<Record<string, string>>): Pick<Result, 'columns' | 'rows'> {
  const todo = cols.filter((c) => r.columns.includes(c) && !r.columns.includes(conceptNameColumn(c)));
  if (todo.length === 0) return { columns: r.columns, rows: r.rows };
  const columns = r.columns.flatMap((c) => (todo.includes(c) ? [c, conceptNameColumn(c)] : [c]));
  const rows = r.rows.map((row) => Object.fromEntries(Object.keys(row).flatMap((k) => (todo.includes(k) ? [[k, row[k]], [conceptNameColumn(k), conceptName(names, row[k])]] : [[k, row[k]]]))));
  return { columns, rows };
}

const named = (list: unknown, idKey: string, names: Readonly<Record<string, string>>): unknown =>
  Array.isArray(list) ? list.map((x) => (typeof x === 'object' && x !== null ? { ...(x as Record<string, unknown>), concept_name: conceptName(names, (x as Record<string, unknown>)[idKey]) } : x)) : list;

/** The job with names beside its concept ids, where the result carries names; otherwise the job itself. */
export function withConceptNames(job: JobView): JobView {
  const r = job.result;
  const names = r?.conceptNames;
  if (!r || !names || Object.keys(names).length === 0) return job;
  const s = r.summary;
  if (job.kind === 'aggregate') return { ...job, result: { ...r, ...nameColumns(r, groupColumns(job), names) } };
  if (s && (job.kind === 'cohort' || job.kind === 'characterize')) {
    const summary = { ...s };
    for (const [key, idKey] of [['byGender', 'gender_concept_id'], ['conditions', 'concept_id'], ['drugs', 'concept_id']] as const) if (key in s) summary[key] = named(s[key], idKey, names);
    return { ...job, result: { ...r, summary } };
  }
  if (s && job.kind === 'contingency') {
    const spec = (job.spec ?? {}) as { rowColumn?: string; colColumn?: string };
    const levelNames = (column: string | undefined, levels: unknown): (string | null)[] | undefined =>
      column && isConceptColumn(column) && Array.isArray(levels) ? levels.map((l) => conceptName(names, l)) : undefined;
    const rowLevelNames = levelNames(spec.rowColumn, s.rowLevels);
    const colLevelNames = levelNames(spec.colColumn, s.colLevels);
    return {
      ...job,
      result: {
        ...r,
        ...(spec.rowColumn && rowLevelNames ? nameColumns(r, [spec.rowColumn], names) : {}),
        summary: { ...s, ...(rowLevelNames ? { rowLevelNames } : {}), ...(colLevelNames ? { colLevelNames } : {}) },
      },
    };
  }
  return job;
}
