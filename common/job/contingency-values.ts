/**
 * Which values a contingency level (or filter value) may take for a column of a given type: one rule for the agent,
 * which binds them (node-agent/analytics/contingency.ts), and the coordinator, which checks a job's levels against the
 * catalog at admission, before any budget is reserved (red team 8, F3: a level of the wrong type used to pass
 * admission, be charged, and be refused by every agent — on a PostgreSQL agent after staging the whole product).
 */
import { invalidJob } from '../errors.js';

export type ContingencyValueKind = 'integer' | 'double' | 'string' | 'boolean' | 'date' | 'timestamp';

/** The kind of a column type (DuckDB's names), or undefined when contingency tables do not support it. */
export function contingencyValueKind(type: string): ContingencyValueKind | undefined {
  const t = type.toUpperCase();
  if (/^(U?(TINYINT|SMALLINT|INTEGER|BIGINT)|HUGEINT|UHUGEINT)$/.test(t)) return 'integer';
  if (/^(FLOAT|DOUBLE|REAL)$/.test(t) || t.startsWith('DECIMAL')) return 'double';
  if (t === 'VARCHAR') return 'string';
  if (t === 'BOOLEAN') return 'boolean';
  if (t === 'DATE') return 'date';
  if (t.startsWith('TIMESTAMP')) return 'timestamp';
  return undefined;
}

/**
 * Checks a value's JSON type for a column of `kind`.
 * @throws FedmeshError INVALID_JOB naming `field` and the column
 */
export function checkContingencyValue(value: unknown, kind: ContingencyValueKind, col: { name: string; type: string }, field: string): void {
  const bad = (what: string): never => {
    throw invalidJob(field, `must be ${what} (column "${col.name}" is ${col.type})`);
  };
  switch (kind) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) bad('an integer');
      return;
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad('a finite number');
      return;
    case 'boolean':
      if (typeof value !== 'boolean' && value !== 'true' && value !== 'false') bad('true or false');
      return;
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) bad("a date 'YYYY-MM-DD'");
      return;
    case 'timestamp':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$/.test(value)) bad("a timestamp 'YYYY-MM-DD hh:mm:ss'");
      return;
    case 'string':
      if (typeof value !== 'string') bad('a string');
  }
}

/**
 * A level of a contingency table (rowLevels, colLevels): a string or a number (a BOOLEAN column's levels are written
 * "true" and "false"), of the column's kind.
 * @throws FedmeshError INVALID_JOB naming `field`
 */
export function checkContingencyLevel(value: unknown, kind: ContingencyValueKind, col: { name: string; type: string }, field: string): void {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw invalidJob(field, `must be a string or a number${kind === 'boolean' ? ` (column "${col.name}" is BOOLEAN: write "true" or "false")` : ''}`);
  }
  checkContingencyValue(value, kind, col, field);
}
