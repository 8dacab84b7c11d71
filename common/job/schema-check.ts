import { isIntegerType, isNumericType } from '../../algorithms/aggregate/index.js';
import { FedmeshError, invalidJob, quote } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { AggregateJob, Scalar } from './spec.js';

export interface SchemaColumn {
  name: string;
  type: string;
}
export interface SchemaProduct {
  name: string;
  columns: readonly SchemaColumn[];
  privacyUnit?: string | undefined;
}

const FILTERABLE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL\(\d+,\d+\)|VARCHAR|BOOLEAN|DATE|TIMESTAMP)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

export function isFilterableType(type: string): boolean {
  return FILTERABLE.test(type.toUpperCase());
}

export function findColumn(product: SchemaProduct, name: string, field: string): SchemaColumn {
  const c = product.columns.find((col) => col.name === name);
  if (!c) {
    const names = product.columns.map((x) => x.name);
    throw invalidJob(field, `unknown column ${name} in product ${product.name}${didYouMean(name, names)} (columns: ${names.join(', ')})`);
  }
  return c;
}

export function checkValue(col: SchemaColumn, v: Scalar, field: string): void {
  const t = col.type.toUpperCase();
  if (t === 'BOOLEAN') {
    if (typeof v !== 'boolean') throw invalidJob(field, `column ${col.name} is BOOLEAN: expected true or false, got ${quote(v)}`);
  } else if (isNumericType(t)) {
    if (typeof v !== 'number') throw invalidJob(field, `column ${col.name} is ${col.type}: expected a number, got ${quote(v)}`);
    // An engine would round 1.5 to an integer column's 2 (DuckDB) or refuse it (PostgreSQL): say so instead.
    if (isIntegerType(t) && !Number.isInteger(v)) throw invalidJob(field, `column ${col.name} is ${col.type}: expected an integer, got ${quote(v)}`);
  } else if (t === 'DATE' || t === 'TIMESTAMP') {
    if (typeof v !== 'string' || !ISO_DATE.test(v) || Number.isNaN(Date.parse(v))) {
      throw invalidJob(field, `column ${col.name} is ${col.type}: expected an ISO date string, got ${quote(v)}`);
    }
  } else if (typeof v !== 'string') {
    throw invalidJob(field, `column ${col.name} is ${col.type}: expected a string, got ${quote(v)}`);
  }
}

/**
 * Checks an aggregate job against a product's schema: columns exist, filter values have the column's type,
 * measures are on numeric columns, and nothing groups by the privacy unit. Run by the coordinator against the
 * catalog and again by every agent against its own data.
 * @throws FedmeshError INVALID_JOB (or POLICY_DENIED) naming the field
 */
export function checkAggregateAgainstSchema(job: AggregateJob, product: SchemaProduct): void {
  job.where.forEach((f, i) => {
    const field = `where[${i}]`;
    const col = findColumn(product, f.column, `${field}.column`);
    if (!isFilterableType(col.type)) throw invalidJob(`${field}.column`, `column ${col.name} has type ${col.type}, which cannot be filtered`);
    if (f.op === 'is null' || f.op === 'is not null') return;
    if (Array.isArray(f.value)) f.value.forEach((v, j) => checkValue(col, v, `${field}.value[${j}]`));
    else checkValue(col, f.value as Scalar, `${field}.value`);
  });
  job.groupBy.forEach((g, i) => {
    const col = findColumn(product, g, `groupBy[${i}]`);
    if (product.privacyUnit && col.name === product.privacyUnit) {
      throw new FedmeshError('POLICY_DENIED', `groupBy[${i}]: grouping by the privacy unit ${col.name} would release per-person rows`, { field: `groupBy[${i}]` });
    }
  });
  job.measures.forEach((m, i) => {
    if (m.fn === 'count') return;
    const col = findColumn(product, m.column, `measures[${i}].column`);
    if (!isNumericType(col.type) || col.type.toUpperCase() === 'BOOLEAN') {
      throw invalidJob(`measures[${i}].column`, `${m.fn} needs a numeric column; ${col.name} is ${col.type}`);
    }
  });
}
