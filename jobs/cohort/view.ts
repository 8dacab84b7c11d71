/**
 * How a released cohort or characterisation reads as plain text: the persons (and entries), the attrition or the
 * concepts' prevalence, then the notes. Pure: it reads only the released summary and notes.
 */
import type { KindResultView } from '../../common/kinds/index.js';

function text(x: unknown): string {
  if (x === null || x === undefined) return '–';
  if (typeof x === 'number') return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  return String(x);
}

/** Plain-text rendering of a released cohort or characterize result. */
export function renderCohortCells(r: KindResultView): string {
  const s = r.summary ?? {};
  const out = [`persons: ${text(s.count)}${typeof s.count_std === 'number' ? ` ± ${text(s.count_std)} (noise std)` : ''}${'entries' in s ? `, entries: ${text(s.entries)}` : ''}`];
  for (const a of (Array.isArray(s.attrition) ? s.attrition : []) as { rule?: unknown; persons?: unknown }[]) out.push(`  ${text(a.rule)}: ${text(a.persons)}`);
  for (const [label, list] of [['condition', s.conditions], ['drug', s.drugs]] as const) {
    for (const c of (Array.isArray(list) ? list : []) as { concept_id?: unknown; persons?: unknown; prevalence?: unknown }[]) out.push(`  ${label} ${text(c.concept_id)}: ${text(c.persons)} (${text(c.prevalence)})`);
  }
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `Note: ${n}`));
  return out.join('\n');
}
