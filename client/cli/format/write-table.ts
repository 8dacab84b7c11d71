/**
 * Writes a flat table as CSV, Arrow IPC or Parquet (issue 14 #9). Arrow is built with apache-arrow; Parquet is
 * written by DuckDB (built in) from an NDJSON copy, so column types come from the values. Both are loaded only
 * when asked for, keeping other commands' start-up small.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlatTable } from '../../sdk/result-table.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'parquet', 'arrow'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header row; null is an empty field. */
export function toCsv(t: FlatTable): string {
  const lines = [t.columns.map(csvField).join(',')];
  for (const r of t.rows) lines.push(t.columns.map((c) => csvField(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Column kind from the values: all numbers → Float64, all booleans → Bool, else Utf8 (nulls allowed anywhere). */
function kindOf(t: FlatTable, c: string): 'number' | 'boolean' | 'string' {
  let kind: 'number' | 'boolean' | 'string' | undefined;
  for (const r of t.rows) {
    const v = r[c];
    if (v === null || v === undefined) continue;
    const k = typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';
    if (kind === undefined) kind = k;
    else if (kind !== k) return 'string';
  }
  return kind ?? 'string';
}

export async function toArrowIpc(t: FlatTable): Promise<Uint8Array> {
  const arrow = await import('apache-arrow');
  const vectors: Record<string, InstanceType<typeof arrow.Vector>> = {};
  for (const c of t.columns) {
    const kind = kindOf(t, c);
    const values = t.rows.map((r) => {
      const v = r[c];
      return v === null || v === undefined ? null : kind === 'string' ? String(v) : v;
    });
    const type = kind === 'number' ? new arrow.Float64() : kind === 'boolean' ? new arrow.Bool() : new arrow.Utf8();
    vectors[c] = arrow.vectorFromArray(values, type as never);
  }
  return arrow.tableToIPC(new arrow.Table(vectors), 'file');
}

export async function writeParquet(t: FlatTable, path: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-parquet-'));
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const ndjson = join(dir, 'rows.json');
    await writeFile(ndjson, t.rows.map((r) => JSON.stringify(Object.fromEntries(t.columns.map((c) => [c, r[c] ?? null])))).join('\n'));
    const cols = t.columns.map((c) => `'${c.replace(/'/g, "''")}': '${kindOf(t, c) === 'number' ? 'DOUBLE' : kindOf(t, c) === 'boolean' ? 'BOOLEAN' : 'VARCHAR'}'`).join(', ');
    const select = t.columns.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ');
    await conn.run(`COPY (SELECT ${select || '*'} FROM read_json($1, format = 'newline_delimited', columns = {${cols}})) TO '${path.replace(/'/g, "''")}' (FORMAT parquet)`, [ndjson]);
  } finally {
    conn.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}
