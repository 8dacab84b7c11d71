/**
 * The contingency local step's counts as one GROUP BY statement compiled through the dialect layer, so an agent
 * whose data lives in PostgreSQL can count on the server and read back only the cell counts (at most
 * rows × cols + 2 numbers), instead of staging the product into its DuckDB (issue 13, goal 1).
 *
 * The rule is the one of node-agent/analytics/contingency.ts (DuckDB): each person's rows after the filters map to
 * a place — the cell of their (row level, column level), or `outside` when either value is not a public level; a
 * person with rows in several places counts once in `ambiguous`. Every person contributes exactly 1 in total, so
 * counts from agents with disjoint persons add up to the pooled counts.
 *
 * Inputs are columns the agent resolved from its own catalogue (names checked against the product, types from
 * it); level and filter values are bound parameters, never SQL text.
 */
import { FedmeshError } from '../../common/errors.js';
import type { SqlDialect, SqlType } from './dialect.js';

export type CountLevel = string | number | boolean;

/** A product column as the agent's catalogue describes it. */
export interface CountColumn {
  readonly name: string;
  /** Logical type (from the product's catalogue). */
  readonly type: SqlType;
}

export type CountFilter =
  | { readonly column: CountColumn; readonly op: '=' | '!=' | '<' | '<=' | '>' | '>='; readonly value: CountLevel }
  | { readonly column: CountColumn; readonly op: 'in'; readonly value: readonly CountLevel[] }
  | { readonly column: CountColumn; readonly op: 'between'; readonly value: readonly [CountLevel, CountLevel] }
  | { readonly column: CountColumn; readonly op: 'is null' | 'is not null' };

export interface ContingencyQueryInput {
  /** The product's table (a name the agent checked). */
  readonly table: string;
  readonly person: CountColumn;
  readonly row: CountColumn;
  readonly col: CountColumn;
  readonly rowLevels: readonly CountLevel[];
  readonly colLevels: readonly CountLevel[];
  readonly where?: readonly CountFilter[];
}

export interface CompiledQuery {
  readonly sql: string;
  readonly params: (string | number | boolean)[];
}

/** At most this many levels per side, as on DuckDB (the statement and the answer stay bounded). */
export const MAX_COUNT_LEVELS = 1000;

/**
 * Doubles compare as doubles so that 2 and 2.0 meet, as on DuckDB; text by its bytes, as on DuckDB (a server's
 * collation may order texts otherwise or equate 'alice' and 'Alice'), cast first (a uuid or enum published as VARCHAR
 * takes no collation).
 */
function compared(d: SqlDialect, c: CountColumn): string {
  const ref = d.quoteIdent(c.name);
  return c.type === 'DOUBLE' ? d.cast(ref, 'DOUBLE') : c.type === 'VARCHAR' ? d.binaryOrder(d.cast(ref, 'VARCHAR')) : ref;
}

class Binder {
  readonly params: (string | number | boolean)[] = [];
  constructor(private readonly d: SqlDialect) {}
  /** A typed placeholder for `v`, bound in the column's type (a level of the wrong JS type is refused). */
  bind(v: CountLevel, c: CountColumn, field: string): string {
    const ok =
      c.type === 'BIGINT' || c.type === 'INTEGER' ? typeof v === 'number' && Number.isSafeInteger(v)
      : c.type === 'DOUBLE' ? typeof v === 'number' && Number.isFinite(v)
      : c.type === 'BOOLEAN' ? typeof v === 'boolean' || v === 'true' || v === 'false'
      : typeof v === 'string';
    if (!ok) throw new FedmeshError('INVALID_ARGUMENT', `${field}: ${JSON.stringify(v)} is not a value of column "${c.name}" (${c.type})`, { field });
    // A BOOLEAN column's levels are written "true" / "false" (JSON has no boolean levels: common/job/contingency-values.ts).
    this.params.push(c.type === 'BOOLEAN' ? v === true || v === 'true' : v);
    return this.d.cast(this.d.placeholder(this.params.length), c.type === 'INTEGER' ? 'BIGINT' : c.type);
  }
}

function levels(ls: readonly CountLevel[], field: string): void {
  if (ls.length === 0 || ls.length > MAX_COUNT_LEVELS) throw new FedmeshError('INVALID_ARGUMENT', `${field}: must have 1 to ${MAX_COUNT_LEVELS} levels`, { field });
}

function levelCase(d: SqlDialect, c: CountColumn, ls: readonly CountLevel[], field: string, b: Binder): string {
  const ref = compared(d, c);
  return `CASE ${ls.map((v, i) => `WHEN ${ref} = ${b.bind(v, c, `${field}[${i}]`)} THEN ${i}`).join(' ')} END`;
}

function filterSql(d: SqlDialect, f: CountFilter, i: number, b: Binder): string {
  const field = `where[${i}].value`;
  const ref = compared(d, f.column);
  switch (f.op) {
    case 'is null':
      return `${d.quoteIdent(f.column.name)} IS NULL`;
    case 'is not null':
      return `${d.quoteIdent(f.column.name)} IS NOT NULL`;
    case 'in':
      if (f.value.length === 0 || f.value.length > MAX_COUNT_LEVELS) throw new FedmeshError('INVALID_ARGUMENT', `${field}: 'in' takes 1 to ${MAX_COUNT_LEVELS} values`, { field });
      return `${ref} IN (${f.value.map((v, k) => b.bind(v, f.column, `${field}[${k}]`)).join(', ')})`;
    case 'between':
      return `${ref} BETWEEN ${b.bind(f.value[0], f.column, `${field}[0]`)} AND ${b.bind(f.value[1], f.column, `${field}[1]`)}`;
    default:
      // One of a fixed set of operators (the union type); nothing else of the filter becomes SQL text.
      return `${ref} ${f.op === '!=' ? '<>' : f.op} ${b.bind(f.value, f.column, field)}`;
  }
}

/**
 * The statement: rows `(place, n)` where place is `r * cols + c` for a cell, −1 for outside and −2 for ambiguous,
 * n the number of persons there. Only these at most rows × cols + 2 rows leave the database.
 */
export function compileContingencyCounts(d: SqlDialect, q: ContingencyQueryInput): CompiledQuery {
  const { ctes, b } = placedPersons(d, q);
  return { sql: `${ctes} SELECT place, count(*) AS n FROM placed GROUP BY place`, params: b.params };
}

/** CTEs ending in `placed (pid, place)`: each person's one place by the rule above (−1 outside, −2 ambiguous). */
function placedPersons(d: SqlDialect, q: ContingencyQueryInput): { ctes: string; b: Binder } {
  levels(q.rowLevels, 'rowLevels');
  levels(q.colLevels, 'colLevels');
  const b = new Binder(d);
  const cols = q.colLevels.length;
  const r = levelCase(d, q.row, q.rowLevels, 'rowLevels', b);
  const c = levelCase(d, q.col, q.colLevels, 'colLevels', b);
  const pid = d.quoteIdent(q.person.name);
  const where = [`${pid} IS NOT NULL`, ...(q.where ?? []).map((f, i) => filterSql(d, f, i, b))];
  const relation = `SELECT ${pid} AS pid, ${r} AS r, ${c} AS c FROM ${d.quoteIdent(q.table)} WHERE ${where.map((w) => `(${w})`).join(' AND ')}`;
  const ctes = `WITH cells AS (SELECT pid, CASE WHEN r IS NULL OR c IS NULL THEN -1 ELSE r * ${cols} + c END AS place FROM (${relation}) x),
    per_person AS (SELECT pid, min(place) AS place, count(DISTINCT place) AS places FROM cells GROUP BY pid),
    placed AS (SELECT pid, CASE WHEN places > 1 THEN -2 ELSE place END AS place FROM per_person)`;
  return { ctes, b };
}

/**
 * Mode none's differencing guard: the persons (their unit as text, `u`) of every place holding at least
 * `minPersons` of them, as rows `(place, u)`: read through a cursor and keyed-hashed by the agent
 * (jobs/contingency/agent-source.ts), never released. The same places as {@link compileContingencyCounts}.
 */
export function compileContingencyPersons(d: SqlDialect, q: ContingencyQueryInput, minPersons: number): CompiledQuery {
  if (!(Number.isSafeInteger(minPersons) && minPersons >= 1)) throw new RangeError(`minPersons must be a positive integer, got ${minPersons}`);
  const { ctes, b } = placedPersons(d, q);
  b.params.push(minPersons);
  const k = d.cast(d.placeholder(b.params.length), 'BIGINT');
  return { sql: `${ctes} SELECT place, ${d.cast('pid', 'VARCHAR')} AS u FROM placed WHERE place IN (SELECT place FROM placed GROUP BY place HAVING count(*) >= ${k})`, params: b.params };
}

/** The guard's label of a place: the same text as the DuckDB agent's person sets (node-agent/analytics/contingency.ts). */
export function placeLabel(place: number, nCols: number): string {
  return place === -2 ? 'ambiguous' : place === -1 ? 'outside' : `cell:${Math.floor(place / nCols)}:${place % nCols}`;
}

export interface CellCounts {
  /** counts[r][c]: persons in the cell of row level r and column level c. */
  readonly counts: bigint[][];
  readonly outside: bigint;
  readonly ambiguous: bigint;
}

/** The `(place, n)` rows of {@link compileContingencyCounts} as a table (rows as plain objects, any engine). */
export function readContingencyCounts(rows: readonly Record<string, unknown>[], nRows: number, nCols: number): CellCounts {
  const counts = Array.from({ length: nRows }, () => new Array<bigint>(nCols).fill(0n));
  let outside = 0n;
  let ambiguous = 0n;
  for (const row of rows) {
    const place = Number(row['place']);
    const n = BigInt(row['n'] as bigint | number | string);
    if (place === -2) ambiguous += n;
    else if (place === -1) outside += n;
    else if (Number.isSafeInteger(place) && place >= 0 && place < nRows * nCols) counts[Math.floor(place / nCols)]![place % nCols] = n;
    else throw new FedmeshError('INTERNAL', `contingency counts: the database answered place ${place}, outside 0..${nRows * nCols - 1}`);
  }
  return { counts, outside, ambiguous };
}
