import { checkInteger, MAX_PERSONS, MAX_SITES } from './site-tables.js';

export type SynthFormat = 'csv' | 'parquet';

export interface SynthOptions {
  /** Folder that receives `site-1` … `site-N`; created when missing. Existing table files are overwritten. */
  outDir: string;
  /** Number of sites, 1 to 1000. */
  sites: number;
  /** Persons per site, 1 to 999,999,999. */
  persons: number;
  /** Any safe integer; the same options always give byte-identical files. */
  seed: number;
  /**
   * File format of the tables.
   * @default 'csv'
   */
  format?: SynthFormat;
}

export type CompiledSynthOptions = Readonly<Required<SynthOptions>>;

const FORMATS: readonly SynthFormat[] = ['csv', 'parquet'];

/**
 * Validates synthesiser options once and fills in defaults.
 * @throws TypeError when an option has the wrong type; RangeError when it is out of range. Messages name the option.
 */
export function compileSynthOptions(options: SynthOptions): CompiledSynthOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  if (typeof options.outDir !== 'string') throw new TypeError(`options.outDir must be a string, got ${typeof options.outDir}`);
  if (options.outDir.trim() === '') throw new RangeError('options.outDir must not be empty');
  checkInteger(options.sites, 'options.sites', 1, MAX_SITES);
  checkInteger(options.persons, 'options.persons', 1, MAX_PERSONS);
  checkInteger(options.seed, 'options.seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const format = options.format ?? 'csv';
  if (typeof format !== 'string') throw new TypeError(`options.format must be a string, got ${typeof format}`);
  if (!FORMATS.includes(format)) throw new RangeError(`options.format must be 'csv' or 'parquet', got '${format}'`);
  return Object.freeze({ outDir: options.outDir, sites: options.sites, persons: options.persons, seed: options.seed, format });
}
