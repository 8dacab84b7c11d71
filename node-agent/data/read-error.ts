/**
 * DuckDB's reasons for refusing a data file, reduced to what an operator needs (file, line, kind of problem) and
 * stripped of file content: DuckDB quotes the offending line and value, which are patient data.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { splitCsvLine } from './omop/table-files.js';

export interface ReadProblem {
  /** 1-based line of a CSV file (header = 1), when known. Parquet files have no lines. */
  line?: number;
  message: string;
}

/**
 * Quoted strings become `…`, except the names after `column` (a column name is schema, not data); so do the
 * unquoted values DuckDB names in cast, overflow and date errors (`with value 2987654320.0`, `(123 * 456)`,
 * `with value 5877000-04-07`, `Date out of range: 2021-2-31`).
 */
function scrub(text: string): string {
  return text
    .replace(/(column\s+)"([A-Za-z0-9_ ]{1,64})"|"[^"\n]*"|'[^'\n]*'/gi, (_m, prefix: string | undefined, name: string | undefined) =>
      prefix !== undefined ? `${prefix}"${name}"` : '…')
    .replace(/\b(values?)\s+[-+]?[\d.:-]+(?:e[-+]?\d+)?/gi, '$1 …')
    .replace(/\b(out of range:)\s*[^\s,;)]+/gi, '$1 …')
    .replace(/\(\s*[-+]?[\d.]+\s*[-+*/%]\s*[-+]?[\d.]+\s*\)/g, '(…)')
    .slice(0, 240);
}

/** The line number and a scrubbed reason from a DuckDB read error (never the quoted `Original Line`). */
export function describeReadError(err: unknown): ReadProblem {
  const raw = err instanceof Error ? err.message : String(err);
  // `LINE 1: SELECT …` is DuckDB echoing the SQL, not a line of the file.
  const lines = raw.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^LINE \d+:/.test(l));
  const lineMatch = /\b(?:on|at) line:?\s*(\d+)/i.exec(lines.join('\n'));
  const first = lines[0] ?? 'unknown error';
  const detail = lines.find((l) => /^(Error when|Expected Number of Columns|It was not possible|Value with unterminated quote)/i.test(l));
  const message = scrub(detail ? `${first}: ${detail}` : first);
  return lineMatch ? { line: Number(lineMatch[1]), message } : { message };
}

/**
 * The first CSV record (1-based line of its start) whose field count differs from the header's, for the errors
 * where DuckDB names no line (its dialect sniffer gives up on the whole file). Quoted fields may span lines.
 */
export async function firstRaggedCsvLine(file: string, delimiter: string): Promise<number | undefined> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  let start = 0;
  let record = '';
  let expected: number | undefined;
  try {
    for await (const line of rl) {
      lineNo += 1;
      if (record === '') start = lineNo;
      record = record === '' ? line : `${record}\n${line}`;
      if (((record.match(/"/g)?.length ?? 0) & 1) === 1) continue; // an open quote: the record goes on
      const fields = splitCsvLine(record, delimiter).length;
      record = '';
      if (expected === undefined) expected = fields;
      else if (fields !== expected && !(fields === 1 && line.trim() === '')) return start;
    }
  } finally {
    rl.close();
  }
  return record === '' ? undefined : start;
}
