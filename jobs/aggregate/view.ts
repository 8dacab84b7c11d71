/**
 * How a released aggregate result reads as plain text: one line per group with its columns (noisy values rounded to
 * four significant digits, arrays in brackets, missing values as –), then the notes. Pure: it reads only the
 * released columns, rows and notes. (The CLI renders the built-in result shape with its own table; this is the
 * kind's view for any other reader of the registry.)
 */
import type { KindResultView } from '../../common/kinds/index.js';

function text(x: unknown): string {
  if (x === null || x === undefined) return '–';
  if (typeof x === 'number') return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  if (Array.isArray(x)) return `[${x.map(text).join(', ')}]`;
  return String(x);
}

/** Plain-text rendering of a released aggregate result. */
export function renderAggregate(r: KindResultView): string {
  const body = r.rows.map((row) => r.columns.map((c) => text(row[c])));
  const widths = r.columns.map((h, j) => Math.max(h.length, ...body.map((row) => row[j]!.length)));
  const line = (cells: string[]): string => cells.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd();
  const out = [line(r.columns), ...body.map(line)];
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `Note: ${n}`));
  return out.join('\n');
}
