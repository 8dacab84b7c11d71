/**
 * Whether a re-ingested file may replace the product it served before. A file overwritten by something else
 * (garbage sniffed as a 5,000-column table, an export with columns dropped or retyped) must not silently replace
 * the product: analyses, manifests and the catalog depend on its columns and their types.
 *
 * Compatible: every column served before is still there, with the same type or a lossless widening (a signed
 * integer to a wider one or to DOUBLE, FLOAT to DOUBLE). New columns are fine. Everything else is incompatible.
 */
import type { ColumnInfo } from './products.js';

const INTEGER_WIDTH: Readonly<Record<string, number>> = { TINYINT: 1, SMALLINT: 2, INTEGER: 3, BIGINT: 4, HUGEINT: 5 };

function widens(from: string, to: string): boolean {
  if (from === to) return true;
  const a = INTEGER_WIDTH[from];
  if (a !== undefined) {
    const b = INTEGER_WIDTH[to];
    return (b !== undefined && b >= a) || to === 'DOUBLE';
  }
  return from === 'FLOAT' && to === 'DOUBLE';
}

/** @returns one phrase per incompatibility (column names only, never values); empty when compatible */
export function schemaChanges(served: readonly ColumnInfo[], incoming: readonly ColumnInfo[]): string[] {
  const byName = new Map(incoming.map((c) => [c.name, c.type]));
  const out: string[] = [];
  for (const c of served) {
    const t = byName.get(c.name);
    if (t === undefined) out.push(`column ${c.name} removed`);
    else if (!widens(c.type, t)) out.push(`column ${c.name} changed type ${c.type} → ${t}`);
  }
  return out;
}
