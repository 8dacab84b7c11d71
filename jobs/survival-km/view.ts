/**
 * How a released Kaplan–Meier result reads as plain text: per stratum the persons at risk at the start and the
 * median survival with its 95 % interval, then the log-rank test and the notes. Pure: it reads only the released
 * rows, summary (`logRank`) and notes.
 */
import type { KindResultView } from '../../common/kinds/index.js';

function text(x: unknown): string {
  if (x === null || x === undefined) return '–';
  if (typeof x === 'number') return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  return String(x);
}

/** Plain-text rendering of a released Kaplan–Meier result. */
export function renderKm(r: KindResultView): string {
  const header = ['stratum', 'persons', 'median (days)', '95% CI'];
  const body = r.rows.map((row) => [text(row.stratum), text(typeof row.persons === 'number' && 'persons_std' in row ? Math.max(0, Math.round(row.persons)) : row.persons), text(row.median), `${text(row.medianLower)} – ${text(row.medianUpper)}`]);
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((row) => row[j]!.length)));
  const line = (cells: string[]): string => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ').trimEnd();
  const out = [line(header), ...body.map(line)];
  const lr = r.summary?.logRank as { statistic?: unknown; df?: unknown; pValue?: unknown; pValueApproximate?: boolean } | undefined;
  if (lr) out.push(`log-rank test: X² = ${text(lr.statistic)} on ${text(lr.df)} df, p = ${text(lr.pValue)}${lr.pValueApproximate ? ' (approximate: noisy counts treated as exact)' : ''}`);
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `Note: ${n}`));
  return out.join('\n');
}
