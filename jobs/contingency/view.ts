/**
 * How a released contingency table reads as plain text: the r × c table of persons (withheld cells as `–`, noisy
 * cells rounded and never below 0, as the CLI shows noisy counts), the noise per cell, then the χ² test. Pure: it
 * reads only the released summary (`table`, `rowLevels`, `colLevels`, `cell_std`, `chiSquare`) and notes.
 */
import type { KindResultView } from '../../common/kinds/index.js';

function text(x: unknown): string {
  if (x === null || x === undefined) return '–';
  if (typeof x === 'number') return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  return String(x);
}

/** Plain-text rendering of a released contingency result. */
export function renderContingency(r: KindResultView): string {
  const s = r.summary ?? {};
  const table = (Array.isArray(s.table) ? s.table : []) as unknown[][];
  const rowLevels = (Array.isArray(s.rowLevels) ? s.rowLevels : []) as unknown[];
  const colLevels = (Array.isArray(s.colLevels) ? s.colLevels : []) as unknown[];
  const noisy = typeof s.cell_std === 'number';
  const shown = (x: unknown): string => text(noisy && typeof x === 'number' ? Math.max(0, Math.round(x)) : x);
  const header = ['', ...colLevels.map(text)];
  const body = rowLevels.map((lvl, i) => [text(lvl), ...colLevels.map((_, j) => shown(table[i]?.[j]))]);
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((row) => row[j]!.length)));
  const line = (cells: string[]): string => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ').trimEnd();
  const out = [line(header), ...body.map(line)];
  if (noisy) out.push(`each cell ± ${text(s.cell_std)} (noise std)`);
  const chi = s.chiSquare as { statistic?: unknown; df?: unknown; pValue?: unknown; pValueApproximate?: boolean } | undefined;
  if (chi) out.push(`chi-square test of independence: X² = ${text(chi.statistic)} on ${text(chi.df)} df, p = ${text(chi.pValue)}${chi.pValueApproximate ? ' (approximate: noisy counts treated as exact)' : ''}`);
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `Note: ${n}`));
  return out.join('\n');
}
