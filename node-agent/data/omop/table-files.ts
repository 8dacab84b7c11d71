/**
 * Finding out which CDM table a file holds, from its name and its header, and which CDM version a folder is.
 * CSV headers are read here in a few bytes; Parquet schemas need DuckDB and are read by the caller.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import {
  ALL_CDM_TABLE_NAMES, omopTableAnyVersion, omopTableNames, versionFromColumns, type OmopVersion,
} from './cdm-spec.js';

export type TableFileKind = 'csv' | 'parquet';

export interface CsvHeader {
  /** Column names as written (not normalised). */
  readonly names: string[];
  readonly delimiter: string;
}

const MAX_HEADER_BYTES = 1 << 20;

/** The kind of a tabular file from its extension, or undefined if it is not one fedmesh reads. */
export function tableFileKind(file: string): TableFileKind | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv') || lower.endsWith('.tsv')) return 'csv';
  if (lower.endsWith('.parquet')) return 'parquet';
  return undefined;
}

/** Split one CSV line on `delimiter`, honouring double quotes (a doubled quote is a literal quote). */
export function splitCsvLine(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { field += '"'; i += 1; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) { out.push(field); field = ''; } else field += ch;
  }
  out.push(field);
  return out;
}

/** Pick the delimiter that splits a header line into the most fields (tab-separated Athena files included). */
export function sniffDelimiter(line: string): string {
  let best = ',';
  let bestCount = 0;
  for (const d of [',', '\t', ';', '|']) {
    const n = splitCsvLine(line, d).length;
    if (n > bestCount) { best = d; bestCount = n; }
  }
  return best;
}

/**
 * Read the header line of a CSV file (a leading byte-order mark is dropped).
 * @throws Error when the file has no complete header line within 1 MiB.
 */
export async function readCsvHeader(file: string): Promise<CsvHeader> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(MAX_HEADER_BYTES, 64 * 1024));
    let text = '';
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      text += buf.subarray(0, bytesRead).toString('utf8');
      pos += bytesRead;
      const nl = text.search(/\r?\n/);
      if (nl >= 0) { text = text.slice(0, nl); break; }
      if (bytesRead === 0) break;
      if (pos >= MAX_HEADER_BYTES) throw new Error('no header line within the first 1 MiB');
    }
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const delimiter = sniffDelimiter(text);
    return { names: splitCsvLine(text, delimiter).map((n) => n.trim()), delimiter };
  } finally {
    await fh.close();
  }
}

/** The file name reduced to a candidate table name: `CDM_PERSON.csv` → `person`, `measurement_002.csv` → `measurement`. */
export function tableStem(file: string): string {
  let stem = path.basename(file).toLowerCase();
  stem = stem.replace(/\.(csv|tsv|parquet)$/, '');
  // No CDM table name ends in a digit, so trailing digits are a chunk number.
  stem = stem.replace(/[_.-]?\d+$/, '');
  stem = stem.replace(/^.*\./, '');
  return stem.replace(/^(cdm|omop)_/, '');
}

/**
 * The described CDM table a file holds, or undefined. A file named after a described table counts when its header
 * shares at least one column with it; a file with another name counts when its header holds every required column
 * of exactly one table and nothing else. A file named after an undescribed CDM table (e.g. `cost`) never counts.
 */
export function resolveOmopTable(file: string, header: readonly string[]): string | undefined {
  const cols = header.map((h) => h.toLowerCase());
  const stem = tableStem(file);
  const named = omopTableAnyVersion(stem);
  if (named !== undefined) {
    return named.columns.some((c) => cols.includes(c.name)) ? stem : undefined;
  }
  if (ALL_CDM_TABLE_NAMES.has(stem)) return undefined;
  const hits = omopTableNames().filter((name) => {
    const t = omopTableAnyVersion(name);
    if (t === undefined) return false;
    const known = new Set(t.columns.map((c) => c.name));
    return cols.every((c) => known.has(c)) && t.columns.every((c) => !c.required || cols.includes(c.name));
  });
  return hits.length === 1 ? hits[0] : undefined;
}

/**
 * The CDM version a set of tables is in, from the version-specific columns their headers carry.
 * @default '5.4' when nothing decides.
 */
export function detectOmopVersion(tables: ReadonlyArray<{ table: string; columns: readonly string[] }>): OmopVersion {
  let v53 = 0;
  let v54 = 0;
  for (const { table, columns } of tables) {
    const v = versionFromColumns(table, columns.map((c) => c.toLowerCase()));
    if (v === '5.3') v53 += 1;
    if (v === '5.4') v54 += 1;
  }
  return v53 > v54 ? '5.3' : '5.4';
}
