/**
 * The only ways a value from a cohort definition reaches SQL text: as a re-checked integer, a re-checked finite
 * double, or a date rebuilt from integer parts. No string from the input is ever copied into SQL. Table and column
 * names come from this module's constants only (see `sql-criteria.ts`), except the target table name, which must
 * pass `checkIdentifier`.
 */
import type { CalendarDate, DateRangeIR, NumericRangeIR, RangeOp } from '../../common/cohort/index.js';
import type { SqlDialect } from '../sql/index.js';

/** An integer literal; throws on anything that is not a safe integer (defence in depth: the IR was validated). */
export function intLit(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${String(n)}`);
  return String(n);
}

/** A DOUBLE literal; `String()` of a finite double round-trips exactly. */
export function doubleLit(n: number, dialect: SqlDialect): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${String(n)}`);
  return dialect.cast(String(n), 'DOUBLE');
}

export function dateLit(d: CalendarDate, dialect: SqlDialect): string {
  return dialect.makeDate(intLit(d.year), intLit(d.month), intLit(d.day));
}

export function intList(ids: readonly number[]): string {
  if (ids.length === 0) throw new RangeError('empty id list');
  return ids.map(intLit).join(', ');
}

/** `expr + n days`, staying a DATE (the dialect spells it). */
export function addDays(expr: string, days: number, dialect: SqlDialect): string {
  if (days === 0) return expr;
  return dialect.addDays(expr, intLit(days));
}

const OPS: Record<Exclude<RangeOp, 'bt' | '!bt'>, string> = {
  lt: '<',
  lte: '<=',
  eq: '=',
  '!eq': '<>',
  gt: '>',
  gte: '>=',
};

function rangeClause(expr: string, op: RangeOp, value: string, extent: string | undefined): string {
  if (op === 'bt' || op === '!bt') {
    if (extent === undefined) throw new RangeError('between range without extent');
    const inner = `(${expr} >= ${value} AND ${expr} <= ${extent})`;
    return op === 'bt' ? inner : `NOT ${inner}`;
  }
  return `${expr} ${OPS[op]} ${value}`;
}

export function numericRangeClause(expr: string, r: NumericRangeIR, kind: 'integer' | 'double', dialect: SqlDialect): string {
  const lit = kind === 'integer' ? intLit : (n: number): string => doubleLit(n, dialect);
  return rangeClause(expr, r.op, lit(r.value), r.extent === undefined ? undefined : lit(r.extent));
}

export function dateRangeClause(expr: string, r: DateRangeIR, dialect: SqlDialect): string {
  return rangeClause(expr, r.op, dateLit(r.value, dialect), r.extent === undefined ? undefined : dateLit(r.extent, dialect));
}

const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * A table name the caller chose (not from the cohort definition); only plain identifiers pass, and the result is
 * double-quoted.
 * @throws RangeError when the name is not a plain identifier
 */
export function checkIdentifier(name: string): string {
  if (!IDENTIFIER_RE.test(name)) throw new RangeError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

export function quoteIdent(name: string): string {
  return `"${checkIdentifier(name)}"`;
}
