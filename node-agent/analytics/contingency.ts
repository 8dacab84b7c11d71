/**
 * r × c contingency counts of persons over public levels at one agent, exact and addable across agents, for the
 * chi-square test of `algorithms/stats`. Column names are checked against the table's catalog and quoted; level
 * and filter values are bound parameters, compared in the column's type.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { invalidJob, quote } from '../../common/errors.js';
import { guardDuckDb, requireColumn, requireCohortTable, requireOmopTable, requireTable, toBigInt } from './schema.js';
import type { ResolvedColumn, ResolvedTable } from './schema.js';
import { Params } from './sql-params.js';
import { checkContingencyValue, contingencyValueKind, type ContingencyValueKind } from '../../common/job/index.js';

export type Level = string | number;

export const CONTINGENCY_FILTER_OPS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'between', 'is null', 'is not null'] as const;
export type ContingencyFilterOp = (typeof CONTINGENCY_FILTER_OPS)[number];

/** A row filter; `value` is a scalar for comparisons, a non-empty list for `in`, `[lo, hi]` for `between`. */
export interface ContingencyFilter {
  column: string;
  op: ContingencyFilterOp;
  value?: Level | boolean | readonly (Level | boolean)[];
}

export interface ContingencyOptions {
  /** Table or view to count. */
  table: string;
  rowColumn: string;
  colColumn: string;
  /** Public row levels (numbers for numeric columns, strings otherwise), without duplicates. */
  rowLevels: readonly Level[];
  colLevels: readonly Level[];
  /** Filters, all of which a row must pass. @default [] */
  where?: readonly ContingencyFilter[];
  /**
   * The privacy-unit column. Rows with a NULL person are ignored.
   * @default the first of `person_id`, `subject_id` the table has
   */
  personColumn?: string;
  /**
   * Also materialise each person's place as temp table `table` (cell VARCHAR, h UBIGINT): cells named
   * `cell:<r>:<c>`, `outside`, `ambiguous` as in the released counts, persons as keyed hashes (`hashSql` of the
   * person column and a `$n` placeholder of `salt`). For the mode-none differencing guard; the caller drops it.
   */
  personSets?: { table: string; salt: string; hashSql: (personExpr: string, saltParam: string) => string };
}

/**
 * Sensitivity (add or remove one person, the privacy unit): each person lands in exactly one place, a cell of
 * `counts`, `outside` or `ambiguous`, so the L1 change over all fields together is 1.
 */
export interface ContingencyCounts {
  /** `counts[i][j]`: persons whose rows all fall in row level i and column level j. */
  counts: bigint[][];
  /** Persons whose rows all have a row or column value outside the public levels (NULL included). */
  outside: bigint;
  /** Persons whose rows fall in more than one place (two cells, or a cell and outside): counted nowhere else. */
  ambiguous: bigint;
}

/** At most this many levels per side (the output and the statement stay bounded). */
export const MAX_LEVELS = 1000;
/** The columns the step takes as the person when none is named, in this order (the staging of a server's product reads the same). */
export const PERSON_COLUMN_CANDIDATES: readonly string[] = ['person_id', 'subject_id'];

type ValueKind = ContingencyValueKind;

function kindOf(col: ResolvedColumn, field: string): ValueKind {
  const kind = contingencyValueKind(col.type);
  if (!kind) throw invalidJob(field, `column "${col.name}" has type ${col.type}, which contingency tables do not support`);
  return kind;
}

/** The column as compared: numeric columns as BIGINT/DOUBLE so that 2 and 2.0 meet. */
function lhs(col: ResolvedColumn, kind: ValueKind, qualifier = ''): string {
  const ref = `${qualifier}${col.sql}`;
  return kind === 'double' ? `CAST(${ref} AS DOUBLE)` : ref;
}

/** Binds one value in the column's kind, after checking its JS type (common/job/contingency-values.ts). */
function bindValue(value: unknown, kind: ValueKind, col: ResolvedColumn, field: string, params: Params): string {
  checkContingencyValue(value, kind, col, field);
  switch (kind) {
    case 'integer':
      return params.add(value as number, 'BIGINT');
    case 'double':
      return params.add(value as number, 'DOUBLE');
    case 'boolean':
      return params.add(value === true || value === 'true', 'BOOLEAN');
    case 'date':
      return params.add(value as string, 'DATE');
    case 'timestamp':
      return params.add((value as string).replace('T', ' '), 'TIMESTAMP');
    case 'string':
      return params.add(value as string, 'VARCHAR');
  }
}

function checkLevels(levels: unknown, field: string): readonly Level[] {
  if (!Array.isArray(levels) || levels.length === 0) throw invalidJob(field, 'must be a non-empty array of levels');
  if (levels.length > MAX_LEVELS) throw invalidJob(field, `must have at most ${MAX_LEVELS} levels`);
  const seen = new Set<Level>();
  levels.forEach((v: unknown, i) => {
    if (typeof v !== 'string' && typeof v !== 'number') throw invalidJob(`${field}[${i}]`, 'must be a string or a number');
    if (seen.has(v)) throw invalidJob(`${field}[${i}]`, `duplicate level ${quote(v)}`);
    seen.add(v);
  });
  return levels as Level[];
}

/** `CASE WHEN col = $a THEN 0 WHEN col = $b THEN 1 … END` (NULL outside the levels). */
function levelCase(col: ResolvedColumn, levels: readonly Level[], field: string, params: Params, qualifier = ''): string {
  const kind = kindOf(col, field);
  const c = lhs(col, kind, qualifier);
  const whens = levels.map((v, i) => `WHEN ${c} = ${bindValue(v, kind, col, `${field}[${i}]`, params)} THEN ${i}`);
  return `CASE ${whens.join(' ')} END`;
}

function filterSql(table: ResolvedTable, filters: unknown, params: Params): string[] {
  if (filters === undefined) return [];
  if (!Array.isArray(filters)) throw invalidJob('opts.where', 'must be an array of filters');
  return filters.map((f: unknown, i) => {
    const field = `opts.where[${i}]`;
    if (typeof f !== 'object' || f === null) throw invalidJob(field, 'must be { column, op, value }');
    const { column, op, value } = f as Record<string, unknown>;
    const col = requireColumn(table, column, `${field}.column`);
    if (typeof op !== 'string' || !(CONTINGENCY_FILTER_OPS as readonly string[]).includes(op)) {
      throw invalidJob(`${field}.op`, `must be one of ${CONTINGENCY_FILTER_OPS.join(', ')}`);
    }
    if (op === 'is null') return `${col.sql} IS NULL`;
    if (op === 'is not null') return `${col.sql} IS NOT NULL`;
    const kind = kindOf(col, `${field}.column`);
    const c = lhs(col, kind);
    if (op === 'in') {
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LEVELS) {
        throw invalidJob(`${field}.value`, `must be a non-empty list (at most ${MAX_LEVELS}) for 'in'`);
      }
      return `${c} IN (${value.map((v: unknown, k) => bindValue(v, kind, col, `${field}.value[${k}]`, params)).join(', ')})`;
    }
    if (op === 'between') {
      if (!Array.isArray(value) || value.length !== 2) throw invalidJob(`${field}.value`, "must be [lo, hi] for 'between'");
      const lo = bindValue(value[0], kind, col, `${field}.value[0]`, params);
      const hi = bindValue(value[1], kind, col, `${field}.value[1]`, params);
      return `${c} BETWEEN ${lo} AND ${hi}`;
    }
    // A fixed set of operators (checked above) is the only text that comes from the filter.
    const sqlOp = op === '!=' ? '<>' : op;
    return `${c} ${sqlOp} ${bindValue(value, kind, col, `${field}.value`, params)}`;
  });
}

/**
 * Counts persons per cell from a relation with columns `pid`, `r` (row level index or NULL) and `c` (column
 * level index or NULL). A person goes to their one place; one with rows in two places goes to `ambiguous`.
 */
async function countCells(
  conn: DuckDBConnection,
  relation: string,
  params: Params,
  rows: number,
  cols: number,
): Promise<ContingencyCounts> {
  const sql = `WITH cells AS (
      SELECT pid, CASE WHEN r IS NULL OR c IS NULL THEN -1 ELSE r * ${cols} + c END AS place FROM (${relation}) x),
    per_person AS (SELECT pid, min(place) AS place, COUNT(DISTINCT place) AS places FROM cells GROUP BY pid)
    SELECT CASE WHEN places > 1 THEN -2 ELSE place END AS place, COUNT(*) AS n FROM per_person GROUP BY 1`;
  const result = (await conn.runAndReadAll(sql, params.values)).getRowObjectsJS();
  const counts = Array.from({ length: rows }, () => new Array<bigint>(cols).fill(0n));
  let outside = 0n;
  let ambiguous = 0n;
  for (const row of result) {
    const place = Number(row['place']);
    const n = toBigInt(row['n']);
    if (place === -2) ambiguous += n;
    else if (place === -1) outside += n;
    else counts[Math.floor(place / cols)]![place % cols] = n;
  }
  return { counts, outside, ambiguous };
}

/**
 * Contingency counts of persons over public row and column levels.
 *
 * Each person's rows (after `where`) are mapped to a place: the cell of their (row level, column level), or
 * `outside` when either value is not a public level. A person whose rows all map to one place counts 1 there; a
 * person whose rows map to several places counts 1 in `ambiguous` and nowhere else. So every person contributes
 * exactly 1 in total (see {@link ContingencyCounts}), and counts from agents holding disjoint persons add up to
 * the counts of the pooled data.
 *
 * @throws FedmeshError INVALID_JOB naming the option at fault (unknown table or column, a level or filter value
 *   of the wrong type, duplicate levels); INTERNAL (DuckDB error only in `cause`)
 */
export async function contingencyCounts(conn: DuckDBConnection, opts: ContingencyOptions): Promise<ContingencyCounts> {
  if (typeof opts !== 'object' || opts === null) throw invalidJob('opts', 'must be an object');
  const rowLevels = checkLevels(opts.rowLevels, 'opts.rowLevels');
  const colLevels = checkLevels(opts.colLevels, 'opts.colLevels');
  const table = await requireTable(conn, opts.table, 'opts.table');
  const rowCol = requireColumn(table, opts.rowColumn, 'opts.rowColumn');
  const colCol = requireColumn(table, opts.colColumn, 'opts.colColumn');
  let person: ResolvedColumn;
  if (opts.personColumn !== undefined) {
    person = requireColumn(table, opts.personColumn, 'opts.personColumn');
  } else {
    const found = PERSON_COLUMN_CANDIDATES.find((c) => table.columns.has(c));
    if (found === undefined) {
      throw invalidJob('opts.personColumn', `table "${table.name}" has no person_id or subject_id column: name the privacy-unit column`);
    }
    person = requireColumn(table, found, 'opts.personColumn');
  }
  const params = new Params();
  const r = levelCase(rowCol, rowLevels, 'opts.rowLevels', params);
  const c = levelCase(colCol, colLevels, 'opts.colLevels', params);
  const where = [`${person.sql} IS NOT NULL`, ...filterSql(table, opts.where, params)];
  const relation = `SELECT ${person.sql} AS pid, ${r} AS r, ${c} AS c FROM ${table.sql} WHERE ${where.map((w) => `(${w})`).join(' AND ')}`;
  const counts = await guardDuckDb('contingency counts', () => countCells(conn, relation, params, rowLevels.length, colLevels.length));
  const sets = opts.personSets;
  if (sets) {
    const cols = colLevels.length;
    const salt = params.add(sets.salt, 'VARCHAR');
    await guardDuckDb('contingency person sets', () =>
      conn.run(
        `CREATE TEMP TABLE "${sets.table.replace(/"/g, '')}" AS WITH cells AS (
            SELECT pid, CASE WHEN r IS NULL OR c IS NULL THEN -1 ELSE r * ${cols} + c END AS place FROM (${relation}) x),
          per_person AS (SELECT pid, min(place) AS place, COUNT(DISTINCT place) AS places FROM cells GROUP BY pid)
          SELECT CASE WHEN places > 1 THEN 'ambiguous' WHEN place = -1 THEN 'outside' ELSE 'cell:' || (place // ${cols}) || ':' || (place % ${cols}) END AS cell,
                 ${sets.hashSql('pid', salt)} AS h FROM per_person`,
        params.values,
      ),
    );
  }
  return counts;
}

export interface CohortAttributeOptions {
  /** Cohort table (`subject_id`, …) as written by `runCohort`. */
  cohortTable: string;
  /** A column of `person`, e.g. `gender_concept_id`, `race_concept_id`, `year_of_birth`. */
  column: string;
  /** Public levels of that column. */
  levels: readonly Level[];
}

/** Row levels of {@link cohortAttributeCounts}, in order. */
export const COHORT_MEMBERSHIP_LEVELS: readonly string[] = Object.freeze(['in cohort', 'not in cohort']);

/**
 * Cohort membership × a person attribute: a 2 × levels table over every person of `person` (and every cohort
 * subject), row 0 the cohort's persons, row 1 the others. Same contribution bound as {@link contingencyCounts}:
 * each person exactly once over `counts`, `outside` and `ambiguous`.
 *
 * @throws FedmeshError INVALID_JOB naming the option at fault; FAILED_PRECONDITION without a `person` table;
 *   INTERNAL (DuckDB error only in `cause`)
 */
export async function cohortAttributeCounts(conn: DuckDBConnection, opts: CohortAttributeOptions): Promise<ContingencyCounts> {
  if (typeof opts !== 'object' || opts === null) throw invalidJob('opts', 'must be an object');
  const levels = checkLevels(opts.levels, 'opts.levels');
  const cohort = await requireCohortTable(conn, opts.cohortTable, 'opts.cohortTable');
  const person = await requireOmopTable(conn, 'person', ['person_id']);
  const col = requireColumn(person, opts.column, 'opts.column');
  const params = new Params();
  const c = levelCase(col, levels, 'opts.levels', params, 'p.');
  const relation = `
    SELECT u.pid,
           CASE WHEN u.pid IN (SELECT subject_id FROM ${cohort.sql}) THEN 0 ELSE 1 END AS r,
           ${c} AS c
      FROM (SELECT person_id AS pid FROM ${person.sql} UNION SELECT subject_id FROM ${cohort.sql}) u
      LEFT JOIN ${person.sql} p ON p.person_id = u.pid
     WHERE u.pid IS NOT NULL`;
  return guardDuckDb('cohort attribute counts', () => countCells(conn, relation, params, COHORT_MEMBERSHIP_LEVELS.length, levels.length));
}
