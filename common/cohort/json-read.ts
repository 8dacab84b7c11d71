/**
 * Small readers for untrusted JSON. Each takes the path of the value (for the error message) and a context that
 * builds the error, so the Circe and native front-ends share the checks but word their errors their own way.
 */
import type { FedmeshError } from '../errors.js';
import type { CalendarDate, NumericRangeIR, RangeOp } from './ir.js';

export interface ParseContext {
  /** A value is present but malformed. */
  invalid(path: string, message: string): FedmeshError;
  /** A construct is well-formed but outside what fedmesh supports. */
  unsupported(path: string, detail?: string): FedmeshError;
}

/** Days are bounded so that date arithmetic can never overflow (about ±2,700 years). */
export const MAX_ABS_DAYS = 1_000_000;
/** Concept ids are positive or zero 64-bit ids in OMOP; we keep them inside the exactly representable range. */
const MAX_CONCEPT_ID = Number.MAX_SAFE_INTEGER;

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(ctx: ParseContext, v: unknown, path: string): JsonObject {
  if (!isObject(v)) throw ctx.invalid(path, 'must be an object');
  return v;
}

export function expectArray(ctx: ParseContext, v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw ctx.invalid(path, 'must be an array');
  return v;
}

/** `null` and `undefined` both mean absent in ATLAS exports. */
export function isAbsent(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

export function readInteger(
  ctx: ParseContext,
  v: unknown,
  path: string,
  bounds: { min?: number; max?: number } = {},
): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isInteger(v)) {
    throw ctx.invalid(path, 'must be a finite integer');
  }
  const min = bounds.min ?? -MAX_ABS_DAYS;
  const max = bounds.max ?? MAX_ABS_DAYS;
  if (v < min || v > max) throw ctx.invalid(path, `must be between ${min} and ${max}`);
  return v;
}

export function readDays(ctx: ParseContext, v: unknown, path: string, min = -MAX_ABS_DAYS): number {
  return readInteger(ctx, v, path, { min, max: MAX_ABS_DAYS });
}

export function readFiniteNumber(ctx: ParseContext, v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw ctx.invalid(path, 'must be a finite number');
  if (Math.abs(v) > 1e15) throw ctx.invalid(path, 'must be between -1e15 and 1e15');
  return v;
}

export function readConceptId(ctx: ParseContext, v: unknown, path: string): number {
  return readInteger(ctx, v, path, { min: 0, max: MAX_CONCEPT_ID });
}

export function readBoolean(ctx: ParseContext, v: unknown, path: string, fallback: boolean): boolean {
  if (isAbsent(v)) return fallback;
  if (typeof v !== 'boolean') throw ctx.invalid(path, 'must be a boolean');
  return v;
}

export function readString(ctx: ParseContext, v: unknown, path: string, maxLength = 500): string {
  if (typeof v !== 'string') throw ctx.invalid(path, 'must be a string');
  if (v.length > maxLength) throw ctx.invalid(path, `must be at most ${maxLength} characters`);
  return v;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A strict `YYYY-MM-DD` calendar date (checked to exist, e.g. no 2021-02-30). */
export function readDate(ctx: ParseContext, v: unknown, path: string): CalendarDate {
  if (typeof v !== 'string') throw ctx.invalid(path, 'must be a date string YYYY-MM-DD');
  const m = DATE_RE.exec(v);
  if (!m) throw ctx.invalid(path, 'must be a date string YYYY-MM-DD');
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (
    year < 1 ||
    probe.getUTCFullYear() !== year ||
    probe.getUTCMonth() !== month - 1 ||
    probe.getUTCDate() !== day
  ) {
    throw ctx.invalid(path, 'is not a valid calendar date');
  }
  return { year, month, day };
}

const RANGE_OPS: readonly RangeOp[] = ['lt', 'lte', 'eq', '!eq', 'gt', 'gte', 'bt', '!bt'];

export function readRangeOp(ctx: ParseContext, v: unknown, path: string): RangeOp {
  if (typeof v !== 'string' || !(RANGE_OPS as readonly string[]).includes(v)) {
    throw ctx.invalid(path, `must be one of ${RANGE_OPS.join(', ')}`);
  }
  return v as RangeOp;
}

export function isBetween(op: RangeOp): boolean {
  return op === 'bt' || op === '!bt';
}

/**
 * A Circe NumericRange `{Value, Op, Extent}`. With `integer`, values are truncated toward zero as Circe does for
 * integer fields (age, counts); otherwise they stay doubles.
 */
export function readNumericRange(
  ctx: ParseContext,
  v: unknown,
  path: string,
  opts: { integer: boolean },
): NumericRangeIR {
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Value', 'Op', 'Extent']);
  const op = readRangeOp(ctx, o['Op'], `${path}.Op`);
  const read = (x: unknown, p: string): number => {
    const n = readFiniteNumber(ctx, x, p);
    return opts.integer ? Math.trunc(n) : n;
  };
  const value = read(o['Value'], `${path}.Value`);
  if (isBetween(op)) {
    const extent = read(o['Extent'], `${path}.Extent`);
    return { op, value, extent };
  }
  return { op, value };
}

/**
 * Refuse every key that is not known. ATLAS exports write absent options as null, false or []; those are inert
 * and allowed, anything else under an unknown key could change the cohort and is refused by name.
 */
export function rejectUnknownKeys(
  ctx: ParseContext,
  o: JsonObject,
  path: string,
  known: readonly string[],
  informational: readonly string[] = [],
): void {
  for (const [k, v] of Object.entries(o)) {
    if (known.includes(k) || informational.includes(k)) continue;
    if (isInert(v)) continue;
    throw ctx.unsupported(path === '' ? k : `${path}.${k}`);
  }
}

export function isInert(v: unknown): boolean {
  return isAbsent(v) || v === false || (Array.isArray(v) && v.length === 0);
}
