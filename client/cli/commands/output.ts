import { writeFile } from 'node:fs/promises';
import { quote } from '../../../common/errors.js';
import type { FlatTable } from '../../sdk/result-table.js';
import { formulaSafeTable } from '../format/formula-guard.js';
import { OUTPUT_FORMATS, toArrowIpc, toCsv, writeParquet, type OutputFormat } from '../format/write-table.js';

export interface OutputFlags {
  /** Same as `--format json`. */
  json?: boolean;
  format?: string;
  out?: string;
}

/** What a command can show: a JSON object, a text rendering, and (for files) one flat table. */
export interface Printable {
  json: () => unknown;
  table: (color: boolean) => string;
  flat: () => FlatTable;
}

/** The format asked for: `--format`, or json with `--json`, else table. @throws RangeError naming the flag */
export function outputFormat(flags: OutputFlags): OutputFormat {
  if (flags.format !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(flags.format)) {
    throw new RangeError(`--format: ${quote(flags.format, 40)} is not one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  if (flags.json && flags.format !== undefined && flags.format !== 'json') throw new RangeError(`--json and --format ${flags.format} disagree: give one`);
  return (flags.format as OutputFormat | undefined) ?? (flags.json ? 'json' : 'table');
}

/** True when the output is machine-readable (no spinner, no chatter on stdout). */
export function quietOutput(flags: OutputFlags): boolean {
  return outputFormat(flags) !== 'table' || flags.out !== undefined;
}

/**
 * Prints or writes (`--out FILE`) the output in the format asked for. Binary formats go to a file, or to stdout
 * only when it is not a terminal. Writes a one-line note to stderr when a file was written.
 */
export async function emit(p: Printable, flags: OutputFlags): Promise<void> {
  const format = outputFormat(flags);
  const text = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`);
  let data: string | Uint8Array;
  switch (format) {
    case 'table':
      data = text(p.table(flags.out === undefined && process.stdout.isTTY === true));
      break;
    case 'json':
      data = text(JSON.stringify(p.json()));
      break;
    case 'csv':
      data = toCsv(formulaSafeTable(p.flat()));
      break;
    case 'arrow':
      data = await toArrowIpc(p.flat());
      break;
    case 'parquet':
      if (flags.out === undefined) throw new RangeError('--format parquet needs --out FILE');
      await writeParquet(p.flat(), flags.out);
      process.stderr.write(`wrote ${flags.out} (parquet)\n`);
      return;
  }
  if (flags.out !== undefined) {
    await writeFile(flags.out, data);
    process.stderr.write(`wrote ${flags.out} (${format})\n`);
    return;
  }
  if (typeof data !== 'string' && process.stdout.isTTY) throw new RangeError(`--format ${format} is binary: give --out FILE or redirect stdout`);
  process.stdout.write(data);
}
