/**
 * Mode none: the agent's differencing guard over the persons behind a design's rows (glm, train). A mode-none job
 * releases exact figures over those rows (a regression's coefficients and n; a model's losses, accuracy, AUC); two
 * jobs whose `where` differs by one person subtracted to that person's contribution. The persons behind the rows, by
 * cell (glm: all rows; train: each split side), are released sets for the agent's ReleasedCells memory
 * (node-agent/disclosure/released-cells.ts, the one contingency and aggregates use): a set that differs from one
 * released to the same researcher before by 1 … k − 1 persons is refused (PERMISSION_DENIED naming privacy.mode),
 * before any figure is computed. The sets come from the design reader's own rows (GlmReadOptions.onRows), so they
 * are exactly the rows used.
 *
 * Candidates: sets of at least `minPersons` (guardedSetSize: k with plain sums, 1 inside a secure sum). Rows without
 * a privacy unit have no person to key; a product without one is not guarded (as for contingency).
 *
 * Rows on a site's server (the design read there, issue 13): the candidate (cell, unit) pairs are found on the
 * server and read through a cursor into a task-private TEMP table of the agent's DuckDB (`local`), hashed there with
 * the same keyed hash, checked, and dropped — as contingency's server step does.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { personHashSql } from '../../node-agent/disclosure/released-cells.js';
import { hashPairsFromSource } from '../../node-agent/disclosure/source-pairs.js';
import type { GlmReadOptions } from './design.js';

export interface PersonGuardOptions {
  /** The agent's secret salt of the keyed person hash (the same for every job, so sets compare across jobs). */
  readonly salt: string;
  readonly minPersons: number;
  readonly guard: (conn: DuckDBConnection, candidates: string) => Promise<void>;
  /** The agent's own DuckDB, where the guard's memory is: needed when the rows are on a server session. */
  readonly local?: DuckDBConnection;
  /** SQL of a row's cell over the rows table (its last design term is `lastTerm`); one cell 'rows' when absent. */
  readonly cell?: (lastTerm: string) => string;
  /** SQL condition of the rows actually used (train: declared label levels leave class −1 out). @default every row */
  readonly rows?: string;
  /**
   * One cell with a minimum of its own: a set the step releases only from this many persons (train's left-out rows of
   * unlisted labels, withheld below the minimum cell size even inside a secure sum). @default none
   */
  readonly cellMinimum?: { readonly cell: string; readonly minPersons: number };
}

/** A GlmReadOptions.onRows hook that puts the persons of the design's rows, by cell, through `guard`. */
export function designPersonGuard(opts: PersonGuardOptions): NonNullable<GlmReadOptions['onRows']> {
  return async (db, rows) => {
    if (!rows.hasUnit) return;
    const cand = `fedmesh_person_guard_${randomBytes(6).toString('hex')}`;
    const cell = opts.cell ? opts.cell(`"${rows.lastTerm}"`) : `'rows'`;
    const own = opts.cellMinimum;
    if (own && (!/^[a-z-]+$/.test(own.cell) || !Number.isSafeInteger(own.minPersons) || own.minPersons < 1)) throw new RangeError('designPersonGuard: cellMinimum must name a plain cell and a positive integer');
    const least = (k: string): string => (own ? `CASE WHEN cell = '${own.cell}' THEN ${own.minPersons} ELSE ${k} END` : k);
    const pairs = `WITH p AS (SELECT DISTINCT ${cell} AS cell, u FROM "${rows.table}" WHERE u IS NOT NULL AND (${opts.rows ?? '1 = 1'})) `;
    let conn: DuckDBConnection;
    if ('dialect' in db) {
      if (!opts.local) throw new RangeError('designPersonGuard: rows on a server need the agent\'s local DuckDB');
      conn = opts.local;
      const d = db.dialect;
      // The server's own text of the unit, as every kind on a PostgreSQL agent hashes it for the guard.
      const sql = `${pairs}SELECT ${d.cast('cell', 'VARCHAR')} AS cell, ${d.cast('u', 'VARCHAR')} AS u FROM p WHERE cell IN (SELECT cell FROM p GROUP BY cell HAVING count(*) >= ${least(d.placeholder(1))})`;
      await hashPairsFromSource(db, conn, { sql, params: [opts.minPersons] }, opts.salt, cand);
    } else {
      conn = db;
      // sql: duckdb-only (this branch is the agent's own DuckDB)
      await conn.run(`CREATE TEMP TABLE "${cand}" AS ${pairs}SELECT cell, ${personHashSql('u', '$1')} AS h FROM p WHERE cell IN (SELECT cell FROM p GROUP BY cell HAVING count(*) >= ${least('$2')})`, [opts.salt, opts.minPersons]);
    }
    try {
      await opts.guard(conn, cand);
    } finally {
      await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
    }
  };
}
