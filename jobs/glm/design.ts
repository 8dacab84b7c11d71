/**
 * Agent side: the job's design read from this agent's product — outcome, covariates, offset and weights —
 * restricted by `where` and the cohort, with the product's privacy unit and contribution bounding, straight from
 * DuckDB chunks into typed arrays (no per-row JS objects), then checked against the disclosure rules.
 *
 * - Values are clamped to their declared bounds (numeric covariates, outcome, offset); numeric covariates are then
 *   standardised with the public centre and scale when the job asks for it.
 * - Categorical covariates are dummy-coded against the public levels; a row whose level is not listed, a missing
 *   value anywhere, an invalid outcome (binomial: not 0/1; poisson: negative) or a weight ≤ 0 drops the row and is
 *   counted in `nDropped` — never named.
 * - A product with a privacy unit: a row whose unit is NULL belongs to no person — no consent record, contribution
 *   bound or differencing guard can cover it — so it is a missing value, dropped and counted in `nDropped`, in every
 *   mode (the agent's data scope has already left such rows out, node-agent/policy/consent-scope.ts; the reader keeps
 *   the rule for whatever relation it is given). In the DP modes each person contributes at most maxRowsPerPerson
 *   valid rows, chosen by a keyed hash of the row (the aggregate jobs' rule), so that the sensitivity of
 *   glmRoundSensitivity holds.
 * - A cohort keeps the rows of persons in it (membership by privacy unit = subject_id).
 *
 * Every identifier comes from the agent's own schema (checked here); every value is a bound parameter.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isNumericType } from '../../algorithms/aggregate/index.js';
import type { GlmDesign } from '../../algorithms/glm/index.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError, invalidJob } from '../../common/errors.js';
import { checkValue, findColumn, isFilterableType, type SchemaProduct } from '../../common/job/index.js';
import type { Scalar } from '../../common/job/index.js';
import { asSession, runCohort } from '../../node-agent/cohort/index.js';
import type { SqlParam, SqlSession } from '../../node-agent/data/source/index.js';
import { paramBinder, tempTableStatements, type SqlDialect } from '../../node-agent/sql/index.js';
import { clampSql, filterSql } from '../../node-agent/query/aggregate-sql.js';
import { checkBoundCells, checkGlmDisclosure, checkNumericCells, NUMERIC_AS_LEVELS } from './disclosure.js';
import { glmTerms, type GlmJob, type GlmTerm } from './spec.js';

export interface GlmReadOptions {
  /** Agent-secret salt of the keyed hash that picks which rows of a person count (DP modes). */
  readonly salt: string;
  /** The domain's minimum cell size in persons, for the disclosure rules. */
  readonly minCellSize: number;
  /** Prefix of this task's scratch tables (a plain identifier, unique per task). */
  readonly scratch: string;
  /**
   * The job's cohort already built elsewhere (on the site's server): a TEMP table `(subject_id)` of its members on
   * `conn`, used instead of building the cohort here (AgentKindContext.cohortMembers).
   */
  readonly cohortMembers?: string;
  /** Public centre and scale of each standardised numeric covariate (from the first federated round). */
  readonly standardisation?: Readonly<Record<string, { readonly mean: number; readonly sd: number }>>;
  /**
   * Read the rows in the order of their values (outcome, then each term, offset, weight) rather than the engine's
   * storage order: every sum over the design then adds in one order whatever engine holds the rows and however they
   * were loaded, so two agents with the same rows (DuckDB or PostgreSQL) send bit-identical statistics. Rows that
   * tie are the same design row. glm sets it; train keeps the order (its batches are shuffled). @default false
   */
  readonly ordered?: boolean;
  /** Skip the disclosure rules (tests of the reader only). @default false */
  readonly skipDisclosure?: boolean;
  /**
   * Also check each numeric covariate's clamped values as cells (`glm.numericCells`, disclosure.ts) when it takes at
   * most NUMERIC_AS_LEVELS values here: each value held by 0 or ≥ the minimum cell size persons. The glm kind sets it
   * in mode none. @default false
   */
  readonly numericCells?: boolean;
  /**
   * Called once the job's usable rows are in TEMP table `rows.table` (columns y, x1 … x{lastTerm}, u for the privacy
   * unit when `hasUnit`), after the disclosure rules and before they are read: a caller's mode-none differencing
   * guard over the persons behind them (jobs/train/guard.ts). Its errors propagate as they are.
   */
  readonly onRows?: (db: DuckDBConnection | SqlSession, rows: { readonly table: string; readonly lastTerm: string; readonly hasUnit: boolean }) => Promise<void>;
  /**
   * Mode none: `nDropped` is reported as 0 when the dropped rows are of fewer persons than this (rows without a unit
   * count one each), so an exact count of 1 … k − 1 persons never leaves; and, when there are dropped rows and the
   * product has a unit, `onDropped` receives them as TEMP table `table` (column u) — the caller's differencing guard
   * over the dropped persons, so two jobs whose dropped rows differ by one person are refused (red team 26, F5:
   * listing every level but one counted that level's holders exactly). @default none (nDropped as counted)
   */
  readonly droppedMinPersons?: number;
  readonly onDropped?: (db: DuckDBConnection | SqlSession, rows: { readonly table: string; readonly lastTerm: string; readonly hasUnit: boolean }) => Promise<void>;
}

export interface GlmAgentDesign {
  readonly design: GlmDesign;
  readonly terms: readonly GlmTerm[];
  /**
   * Rows selected by `where` and the cohort that could not be used (missing, unlisted level, invalid value).
   * Exact and data-dependent: release it as is only in mode none (the DP modes must noise it or leave it out).
   */
  readonly nDropped: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function numericColumn(product: SchemaProduct, name: string, field: string): string {
  const col = findColumn(product, name, field);
  if (!isNumericType(col.type)) throw invalidJob(field, `column ${col.name} is ${col.type}; a numeric column is needed`);
  return col.name;
}

function notUnit(product: SchemaProduct, name: string, field: string): void {
  if (product.privacyUnit && name === product.privacyUnit) throw new FedmeshError('POLICY_DENIED', `${field}: the privacy unit ${name} cannot be a model variable`, { field });
}

/**
 * Checks the job against this agent's product schema: columns exist and have usable types, level values have the
 * column's type, no model variable is the privacy unit.
 * @throws FedmeshError INVALID_JOB naming the field, or POLICY_DENIED for the privacy unit
 */
export function checkGlmAgainstSchema(job: GlmJob, product: SchemaProduct): void {
  job.where.forEach((f, i) => {
    const col = findColumn(product, f.column, `where[${i}].column`);
    if (!isFilterableType(col.type)) throw invalidJob(`where[${i}].column`, `column ${col.name} has type ${col.type}, which cannot be filtered`);
    if (f.op === 'is null' || f.op === 'is not null') return;
    if (Array.isArray(f.value)) f.value.forEach((v, j) => checkValue(col, v, `where[${i}].value[${j}]`));
    else checkValue(col, f.value as Scalar, `where[${i}].value`);
  });
  const out = findColumn(product, job.outcome, 'outcome');
  if (!isNumericType(out.type)) throw invalidJob('outcome', `column ${out.name} is ${out.type}; a ${job.family} outcome must be numeric${job.family === 'binomial' ? ' (0/1) or BOOLEAN' : ''}`);
  notUnit(product, job.outcome, 'outcome');
  job.covariates.forEach((c, i) => {
    const field = `covariates[${i}].column`;
    notUnit(product, c.column, field);
    if (c.type === 'numeric') {
      const col = findColumn(product, c.column, field);
      if (!isNumericType(col.type)) throw invalidJob(field, `column ${col.name} is ${col.type}; a numeric covariate needs a numeric column (or declare it categorical)`);
    } else {
      const col = findColumn(product, c.column, field);
      if (!isFilterableType(col.type)) throw invalidJob(field, `column ${col.name} has type ${col.type}, which cannot hold categorical levels`);
      c.levels.forEach((l, j) => checkValue(col, l, `covariates[${i}].levels[${j}]`));
    }
  });
  if (job.offset) {
    numericColumn(product, job.offset, 'offset');
    notUnit(product, job.offset, 'offset');
  }
  if (job.weights) {
    numericColumn(product, job.weights, 'weights');
    notUnit(product, job.weights, 'weights');
  }
  if (job.cohort !== undefined && !product.privacyUnit) throw invalidJob('cohort', `product ${product.name} has no privacy unit to match cohort members on`);
}

/** A numeric (or BOOLEAN) column as DOUBLE on every engine (PostgreSQL casts a boolean to a double only via an integer). */
export function doubleOf(d: SqlDialect, product: SchemaProduct, column: string): string {
  const col = d.quoteIdent(column);
  // toDouble: a NUMERIC value beyond the double range is a missing value (the row is dropped), not a failed task.
  return findColumn(product, column, column).type.toUpperCase() === 'BOOLEAN' ? d.cast(d.cast(col, 'INTEGER'), 'DOUBLE') : d.toDouble(col);
}

/**
 * Reads the design of `job` from `product` on this agent, all rows into one design (withGlmRows), after the
 * disclosure rules. On a site's server the rows come back through a cursor into the typed arrays, and the scratch
 * tables are TEMP tables of that session — nothing is staged in the agent's DuckDB.
 * @throws FedmeshError INVALID_JOB (schema), POLICY_DENIED (disclosure rule, privacy unit), FAILED_PRECONDITION
 *   (cohort tables missing), CANCELLED (signal)
 */
export async function readGlmDesign(db: DuckDBConnection | SqlSession, job: GlmJob, product: SchemaProduct, opts: GlmReadOptions, signal?: AbortSignal): Promise<GlmAgentDesign> {
  return withGlmRows(db, job, product, opts, signal, async (r) => {
    let design: GlmDesign | undefined;
    for await (const chunk of r.chunks(Math.max(1, r.n))) design = chunk;
    return { design: design ?? emptyDesign(r.p, job), terms: r.terms, nDropped: r.nDropped };
  });
}

/** The job's usable rows at this agent, after the disclosure rules, ready to be read (withGlmRows). */
export interface GlmRows {
  /** Usable rows. */
  readonly n: number;
  /** Rows selected by where and the cohort that could not be used (GlmAgentDesign.nDropped). */
  readonly nDropped: number;
  readonly terms: readonly GlmTerm[];
  /** Design columns, the intercept included. */
  readonly p: number;
  /**
   * The rows in chunks of `chunkRows` (the last may be shorter), in the read's order: fresh designs over buffers that
   * are reused, so a chunk is valid until the next one is asked for. Once per withGlmRows call.
   */
  readonly chunks: (chunkRows: number) => AsyncGenerator<GlmDesign>;
  /**
   * Some of the rows, in chunks, in a chosen order, as often as asked (each call a fresh read with its own buffers):
   * `where` and `orderBy` are SQL over the rows table's columns (y, x1 … x{p−1}, o, w), which the caller builds in
   * `dialect` from public values only; `n` is how many rows `where` keeps (counted beforehand), checked as `chunks`
   * checks the total. `from`: another table of the session with the same columns (a copy the caller made of some
   * rows), instead of the rows table.
   */
  readonly part: (chunkRows: number, select: { readonly where: string; readonly orderBy?: string; readonly n: number; readonly from?: string }) => AsyncGenerator<GlmDesign>;
  /** The design columns as the rows table names them (y, x1 … x{p−1}, then o and w when the job has them). */
  readonly columns: readonly string[];
  /** The rows table (a TEMP table of the session) and the dialect it speaks, for counts over it. */
  readonly table: string;
  readonly dialect: SqlDialect;
}

function emptyDesign(p: number, job: GlmJob): GlmDesign {
  return { n: 0, p, x: new Float64Array(0), y: new Float64Array(0), ...(job.offset ? { offset: new Float64Array(0) } : {}), ...(job.weights ? { weights: new Float64Array(0) } : {}) };
}

/**
 * Prepares the design of `job` from `product` on this agent (the rows in a TEMP table of `db`, the disclosure rules,
 * `onRows`), gives `consume` a reader of its rows, and drops the TEMP tables when `consume` ends. `db` is the agent's
 * DuckDB or a session of the site's own database server (issue 13): there the SQL is compiled through the session's
 * dialect and runs on the server, and the rows come back through a cursor, a chunk at a time, never all at once.
 * @throws FedmeshError INVALID_JOB (schema), POLICY_DENIED (disclosure rule, privacy unit), FAILED_PRECONDITION
 *   (cohort tables missing), CANCELLED (signal); what `consume` throws
 */
export async function withGlmRows<T>(db: DuckDBConnection | SqlSession, job: GlmJob, product: SchemaProduct, opts: GlmReadOptions, signal: AbortSignal | undefined, consume: (rows: GlmRows) => Promise<T>): Promise<T> {
  if (!IDENT.test(opts.scratch)) throw new RangeError('readGlmDesign: scratch must be a plain identifier');
  checkGlmAgainstSchema(job, product);
  const session = asSession(db);
  const d = session.dialect;
  const terms = glmTerms(job.covariates);
  const dp = job.privacy.mode !== 'none';
  const unit = product.privacyUnit;
  const rowsTable = `${opts.scratch}_glm_rows`;
  if (opts.cohortMembers !== undefined && !IDENT.test(opts.cohortMembers)) throw new RangeError('readGlmDesign: cohortMembers must be a plain identifier');
  const cohortTable = opts.cohortMembers ?? `${opts.scratch}_glm_cohort`;
  const rows = d.tempTable(rowsTable);
  const drop: string[] = [];
  const checkAbort = (): void => {
    if (signal?.aborted) throw new FedmeshError('CANCELLED', 'glm design read cancelled');
  };
  const bigint = (x: string): string => d.cast(x, 'BIGINT');
  try {
    if (job.cohort !== undefined && opts.cohortMembers === undefined) {
      drop.push(cohortTable);
      await runCohort(session, parseCohortDefinition(job.cohort, 'cohort'), { targetTable: cohortTable });
      checkAbort();
    }
    const params: SqlParam[] = [];
    const p = paramBinder(d, params);
    const where = job.where.map((f, i) => filterSql(f, product, `where[${i}]`, p, d));
    if (job.cohort !== undefined && unit) where.push(`${d.quoteIdent(unit)} IN (SELECT subject_id FROM ${d.tempTable(cohortTable)})`);
    const cols: string[] = [];
    const ok: string[] = [];
    // Outcome.
    const yRaw = doubleOf(d, product, job.outcome);
    ok.push(d.isFinite(yRaw));
    if (job.family === 'binomial') ok.push(`${yRaw} IN (0, 1)`);
    if (job.family === 'poisson') ok.push(`${yRaw} >= 0`);
    const yb = job.outcomeBounds;
    cols.push(`${yb && job.family !== 'binomial' ? clampSql(yRaw, p(yb[0], 'DOUBLE'), p(yb[1], 'DOUBLE')) : yRaw} AS y`);
    // Covariates: one SQL column per non-intercept term, all DOUBLE.
    const levelChecks: { column: string; level: string; expr: string }[] = [];
    const numericCols: { column: string; name: string; bounds: readonly [number, number] }[] = [];
    job.covariates.forEach((c, i) => {
      const field = `covariates[${i}]`;
      if (c.type === 'numeric') {
        const raw = doubleOf(d, product, c.column);
        ok.push(d.isFinite(raw));
        let x = clampSql(raw, p(c.bounds[0], 'DOUBLE'), p(c.bounds[1], 'DOUBLE'));
        const st = opts.standardisation?.[c.column];
        if (c.standardise) {
          if (!st || !Number.isFinite(st.mean) || !(st.sd > 0)) throw invalidJob(`covariates[${i}].standardise`, `needs the public mean and a positive SD of ${c.column} from the standardisation round`);
          x = `((${x}) - ${p(st.mean, 'DOUBLE')}) / ${p(st.sd, 'DOUBLE')}`;
        }
        numericCols.push({ column: c.column, name: `x${cols.length}`, bounds: c.bounds });
        cols.push(`${x} AS x${cols.length}`);
        return;
      }
      // Levels compare as filters do (text by its bytes on every engine, whatever the server's collation).
      ok.push(filterSql({ column: c.column, op: 'in', value: [...c.levels] }, product, field, p, d));
      for (const level of c.levels) {
        const eq = filterSql({ column: c.column, op: '=', value: level }, product, field, p, d);
        levelChecks.push({ column: c.column, level: String(level), expr: eq });
        if (String(level) === String(c.reference) && typeof level === typeof c.reference) continue;
        cols.push(`CASE WHEN ${eq} THEN 1.0 ELSE 0.0 END AS x${cols.length}`);
      }
    });
    if (job.offset) {
      const raw = doubleOf(d, product, job.offset);
      ok.push(d.isFinite(raw));
      const ob = job.offsetBounds;
      cols.push(`${ob ? clampSql(raw, p(ob[0], 'DOUBLE'), p(ob[1], 'DOUBLE')) : raw} AS o`);
    }
    if (job.weights) {
      const raw = doubleOf(d, product, job.weights);
      ok.push(d.isFinite(raw), `${raw} > 0`);
      cols.push(`${raw} AS w`);
    }
    if (unit) ok.push(`${d.quoteIdent(unit)} IS NOT NULL`);
    const levelCols = levelChecks.map((l, i) => `CASE WHEN ${l.expr} THEN 1 ELSE 0 END AS l${i}`);
    const unitCol = unit ? [`${d.quoteIdent(unit)} AS u`] : [];
    const whereSql = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
    const base = `SELECT ${[...cols, ...levelCols, ...unitCol, `${d.boolValue(ok.join(' AND '))} AS ok`].join(', ')} FROM ${d.quoteIdent(product.name)}${whereSql}`;
    const baseParams = params.slice();
    // Contribution bounding (DP with a unit): the k rows a person keeps are ranked by a keyed hash of the row's own
    // design values (the dialect's, the same text on every engine, ordered by its bytes whatever the server's
    // collation), not of its position (rowid), so an agent keeps the same rows whatever engine holds them and in
    // whatever order; rows that tie are the same design row.
    const designCols = cols.map((c) => c.slice(c.lastIndexOf(' AS ') + 4));
    const hashKeys = [...designCols, ...levelCols.map((_, i) => `l${i}`)];
    const ranked = dp && unit
      ? `SELECT * FROM (SELECT b.*, row_number() OVER (PARTITION BY u ORDER BY ${d.binaryOrder(d.keyedHash(p(opts.salt, 'VARCHAR'), hashKeys, hashKeys.map((k) => (k.startsWith('l') ? 'INTEGER' : 'DOUBLE'))))}) AS fedmesh_rank FROM (${base}) AS b WHERE ${d.isTrue('ok')}) AS r WHERE fedmesh_rank <= ${p(job.privacy.maxRowsPerPerson ?? 1, 'BIGINT')}`
      : `SELECT * FROM (${base}) AS b WHERE ${d.isTrue('ok')}`;
    drop.push(rowsTable);
    for (const st of tempTableStatements(d, rowsTable, ranked, params)) await session.run(st.sql, st.params);
    checkAbort();
    // Dropped rows: selected by where and cohort but unusable. A second scan with the same parameters, which also
    // counts their persons when nDropped is withheld below a minimum (rows without a unit count one each).
    const notOk = `NOT ${d.isTrue('ok')}`;
    const who = unit ? `${bigint(`count(DISTINCT CASE WHEN ${notOk} THEN u END)`)} + ${bigint(`count(CASE WHEN ${notOk} AND u IS NULL THEN 1 END)`)}` : bigint(`count(CASE WHEN ${notOk} THEN 1 END)`);
    const withPersons = opts.droppedMinPersons !== undefined ? `, ${who} AS persons` : '';
    // In the DP modes nDropped is released with the noise of k rows per person, so it counts at most k dropped rows
    // per person, as the usable rows are bounded (red team 29, F1: one person's 1 000 unusable rows moved it by 1 000).
    // k is a validated integer of the public spec, written into the SQL (the parameters are the base query's).
    const cap = String(Math.trunc(job.privacy.maxRowsPerPerson ?? 1));
    const droppedSql = dp && unit
      ? `SELECT ${bigint(`coalesce(sum(CASE WHEN c > ${cap} THEN ${cap} ELSE c END), 0)`)} AS dropped FROM (SELECT count(*) AS c FROM (${base}) AS b WHERE ${notOk} AND u IS NOT NULL GROUP BY u) AS g`
      : `SELECT ${bigint(`count(CASE WHEN ${notOk} THEN 1 END)`)} AS dropped${withPersons} FROM (${base}) AS b`;
    const dropped = (await session.all(droppedSql, baseParams))[0];
    let nDropped = Number(dropped?.['dropped'] ?? 0);
    checkAbort();
    if (nDropped > 0 && opts.droppedMinPersons !== undefined) {
      const droppedPersons = Number(dropped?.['persons'] ?? 0);
      if (droppedPersons < opts.droppedMinPersons) nDropped = 0;
      else if (opts.onDropped && unit) {
        const droppedTable = `${opts.scratch}_dropped`;
        drop.push(droppedTable);
        for (const st of tempTableStatements(d, droppedTable, `SELECT u FROM (${base}) AS b WHERE ${notOk} AND u IS NOT NULL`, baseParams)) await session.run(st.sql, st.params);
        await opts.onDropped(db, { table: droppedTable, lastTerm: 'u', hasUnit: true });
      }
      checkAbort();
    }
    // Disclosure counts on the rows that will be used: persons (distinct units) when the product has a unit. No used
    // row has a NULL unit (dropped above): counted as a person of its own, as it once was (red team 17, F1), it passed
    // the size rules yet stayed out of every guarded person set, so two jobs differing by it gave its values away.
    const persons = (cond: string): string => bigint(unit ? `count(DISTINCT CASE WHEN ${cond} THEN u END)` : `count(CASE WHEN ${cond} THEN 1 END)`);
    const countExprs = [`${bigint('count(*)')} AS n`];
    if (job.family === 'binomial') countExprs.push(`${persons('y = 0')} AS y0`, `${persons('y = 1')} AS y1`);
    levelChecks.forEach((_, i) => countExprs.push(`${persons(`l${i} = 1`)} AS c${i}`));
    const counts = (await session.all(`SELECT ${countExprs.join(', ')} FROM ${rows}`))[0] ?? {};
    const n = Number(counts['n'] ?? 0);
    const p0 = terms.length;
    if (!opts.skipDisclosure) {
      checkGlmDisclosure(
        {
          n,
          p: p0,
          ...(job.family === 'binomial' ? { outcomeLevels: [Number(counts['y0'] ?? 0), Number(counts['y1'] ?? 0)] as const } : {}),
          levelCells: levelChecks.map((l, i) => ({ column: l.column, level: l.level, persons: Number(counts[`c${i}`] ?? 0) })),
        },
        opts.minCellSize,
      );
      if (opts.numericCells) {
        for (const c of numericCols) {
          // The clamped (and, before the public scales arrive, unscaled) values, value by value when they are few.
          const sizes = await session.all(d.limit(`SELECT ${persons('1 = 1')} AS n FROM ${rows} GROUP BY ${d.quoteIdent(c.name)}`, NUMERIC_AS_LEVELS + 1));
          if (sizes.length <= NUMERIC_AS_LEVELS) checkNumericCells(c.column, sizes.map((r) => Number(r['n'])), opts.minCellSize);
          checkAbort();
        }
        // A clamped outcome or offset: the rows at each bound are a cell (outcome bounds [56, 57] with `where age <=
        // 57` make y an indicator of the one 57-year-old, and round 1's Xᵀy that person's covariates; red team 7).
        const clamped: { column: string; name: string; bounds: readonly [number, number] }[] = [];
        if (job.family !== 'binomial' && job.outcomeBounds) clamped.push({ column: job.outcome, name: 'y', bounds: job.outcomeBounds });
        if (job.offset && job.offsetBounds) clamped.push({ column: job.offset, name: 'o', bounds: job.offsetBounds });
        for (const c of clamped) {
          const lo = d.cast(d.placeholder(1), 'DOUBLE');
          const hi = d.cast(d.placeholder(2), 'DOUBLE');
          const at = (await session.all(`SELECT ${persons(`${d.quoteIdent(c.name)} <= ${lo}`)} AS lo, ${persons(`${d.quoteIdent(c.name)} >= ${hi}`)} AS hi FROM ${rows}`, [c.bounds[0], c.bounds[1]]))[0] ?? {};
          checkBoundCells(c.column, [Number(at['lo'] ?? 0), Number(at['hi'] ?? 0)], opts.minCellSize);
          checkAbort();
        }
      }
    }
    if (opts.onRows) {
      await opts.onRows(db, { table: rowsTable, lastTerm: p0 > 1 ? `x${p0 - 1}` : 'y', hasUnit: !!unit });
      checkAbort();
    }
    const nx = p0 - 1;
    const select = ['y', ...Array.from({ length: nx }, (_, j) => `x${j + 1}`), ...(job.offset ? ['o'] : []), ...(job.weights ? ['w'] : [])];
    const sql = `SELECT ${select.join(', ')} FROM ${rows}${opts.ordered ? ` ORDER BY ${select.join(', ')}` : ''}`;
    const hasOffset = !!job.offset;
    const hasWeights = !!job.weights;
    const part: GlmRows['part'] = (chunkRows, sel) => designChunks(db, `SELECT ${select.join(', ')} FROM ${sel.from ?? rows} WHERE ${sel.where}${sel.orderBy ? ` ORDER BY ${sel.orderBy}` : ''}`, { n: sel.n, p: p0, hasOffset, hasWeights }, chunkRows, checkAbort);
    return await consume({ n, nDropped, terms, p: p0, chunks: (chunkRows) => designChunks(db, sql, { n, p: p0, hasOffset, hasWeights }, chunkRows, checkAbort), part, columns: select, table: rows, dialect: d });
  } catch (e) {
    if (e instanceof FedmeshError || e instanceof RangeError) throw e;
    // Engine messages can quote data values; they stay in `cause`, for the agent's own logs only.
    throw new FedmeshError('INTERNAL', 'glm design query failed', { cause: e });
  } finally {
    for (const t of drop) await session.run(d.dropTempTable(t)).catch(() => undefined);
  }
}

/** The rows of `sql` (columns y, x1 … x{p−1}, then o and w when the job has them) in chunks of `chunkRows` designs. */
async function* designChunks(db: DuckDBConnection | SqlSession, sql: string, shape: { n: number; p: number; hasOffset: boolean; hasWeights: boolean }, chunkRows: number, checkAbort: () => void): AsyncGenerator<GlmDesign> {
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) throw new RangeError('designChunks: chunkRows must be an integer >= 1');
  const { n, p } = shape;
  const cap = Math.min(chunkRows, Math.max(1, n));
  const x = new Float64Array(cap * p);
  const y = new Float64Array(cap);
  const offset = shape.hasOffset ? new Float64Array(cap) : undefined;
  const weights = shape.hasWeights ? new Float64Array(cap) : undefined;
  const nx = p - 1;
  let row = 0;
  let total = 0;
  const chunk = (): GlmDesign => {
    const d: { -readonly [K in keyof GlmDesign]: GlmDesign[K] } = { n: row, p, x: x.subarray(0, row * p), y: y.subarray(0, row) };
    if (offset) d.offset = offset.subarray(0, row);
    if (weights) d.weights = weights.subarray(0, row);
    total += row;
    row = 0;
    return d;
  };
  const room = (): void => {
    checkAbort();
    if (total + row >= n) throw new FedmeshError('INTERNAL', 'glm design: more rows than counted');
  };
  if ('dialect' in db) {
    // A server: through a cursor, a batch of rows at a time (never the whole result in memory).
    for await (const batch of db.stream(sql, [])) {
      for (const r of batch) {
        room();
        y[row] = Number(r['y']);
        x[row * p] = 1;
        for (let j = 1; j <= nx; j++) x[row * p + j] = Number(r[`x${j}`]);
        if (offset) offset[row] = Number(r['o']);
        if (weights) weights[row] = Number(r['w']);
        if (++row === cap) yield chunk();
      }
    }
  } else {
    // DuckDB: column vectors straight into the typed arrays, no per-row objects.
    const result = await db.stream(sql);
    for (;;) {
      const dc = await result.fetchChunk();
      if (!dc || dc.rowCount === 0) break;
      const m = dc.rowCount;
      const cols = Array.from({ length: dc.columnCount }, (_, c) => dc.getColumnVector(c));
      for (let i0 = 0; i0 < m; ) {
        const take = Math.min(m - i0, cap - row);
        room();
        if (total + row + take > n) throw new FedmeshError('INTERNAL', 'glm design: more rows than counted');
        for (let i = 0; i < take; i++) y[row + i] = cols[0]!.getItem(i0 + i) as number;
        for (let j = 1; j <= nx; j++) {
          const v = cols[j]!;
          for (let i = 0; i < take; i++) x[(row + i) * p + j] = v.getItem(i0 + i) as number;
        }
        if (offset) {
          const v = cols[nx + 1]!;
          for (let i = 0; i < take; i++) offset[row + i] = v.getItem(i0 + i) as number;
        }
        if (weights) {
          const v = cols[nx + 1 + (offset ? 1 : 0)]!;
          for (let i = 0; i < take; i++) weights[row + i] = v.getItem(i0 + i) as number;
        }
        for (let i = 0; i < take; i++) x[(row + i) * p] = 1;
        row += take;
        i0 += take;
        if (row === cap) yield chunk();
      }
    }
  }
  if (row > 0) yield chunk();
  if (total !== n) throw new FedmeshError('INTERNAL', 'glm design: fewer rows than counted');
}
