/**
 * The differencing guard of mode `none`. Two exact counts whose person sets differ by one person (`age >= X` and
 * `age > X`) reveal that person, though each count alone is above the minimum cell size. So the agent remembers, per
 * researcher, the person set of every cell it released in mode `none` — as keyed 64-bit hashes of privacy-unit
 * values (MD5 of agent salt ‖ unit, upper half: stable across DuckDB versions, useless outside this agent) — and
 * refuses a new cell whose person set differs from a remembered one by between 1 and k − 1 persons (symmetric
 * difference, k = the agent's minimum cell size). Identical sets (difference 0) are allowed and not stored twice.
 *
 * Exact sizes come from DuckDB joins: |A Δ B| = |A| + |B| − 2|A ∩ B|, with |A ∩ B| from a hash join of the
 * candidate's hashes with the remembered ones. Cells that share nobody differ by |A| + |B| ≥ 2k, so only pairs with
 * a common person need to be looked at.
 *
 * Bounded: at most `maxRememberedPersons` (cell, person) pairs per researcher. A release that would go beyond is
 * refused, never evicted — forgetting a cell would reopen exactly the differencing this guard closes. The domain
 * can raise the limit, or clear a researcher's memory deliberately (`forget`).
 *
 * Scope: cells from earlier jobs of the same researcher at this agent, across products (units are compared by
 * value, so `person_id` in person and condition_occurrence match). Guarded cells: aggregate groups and histogram
 * bins, contingency cells (with `outside` and `ambiguous`), and every person cell of cohort / characterize /
 * survival jobs — the cohort, attrition, age bands, genders, concepts and survival bins (node-agent/jobs/cell-sets.ts;
 * `entries` counts rows, not persons, and is not a set). Secure (masked or encrypted) mode-none jobs are guarded too
 * (node-agent/secure/secure-guard.ts and the kind seam's steps): there nothing is withheld per agent, so every
 * non-empty local cell is a candidate, not only those of k persons. Cells of one job are not compared here (bins of
 * a group, inclusion-rule attrition and breakdowns are nested or partition the cohort by design, and get
 * complementary suppression instead: common/kinds/selection.ts); a characterisation's concept cells, which have no
 * such structure, get secondary suppression against the job's other cells first (within-job.ts, red team 9 F3).
 * Not closed, because the guard compares one pair of sets at a time: differences of sums of cells (two band edges
 * moved at once isolate one age year; red team 9, F2): use a DP mode where that matters.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';

const CELLS = '_fedmesh_released_cell';
const PERSONS = '_fedmesh_released_person';

/** SQL of the keyed 64-bit hash of a privacy-unit value; `saltParam` is the placeholder of the agent's salt. */
export function personHashSql(unitExpr: string, saltParam: string): string {
  return `(md5_number(${saltParam} || CAST(${unitExpr} AS VARCHAR)) >> 64)::UBIGINT`;
}

/**
 * The smallest person set a mode-none job's differencing guard takes as a candidate: with plain sums the sets of at
 * least k persons (smaller ones are withheld at the agent and never leave); inside a secure sum every non-empty set,
 * since nothing is withheld per agent there and a set of 8 here and 8 elsewhere is released as 16 (red-team F5).
 */
export function guardedSetSize(secure: string | undefined, minCellSize: number): number {
  return (secure ?? 'plain') === 'plain' ? minCellSize : 1;
}

export interface ReleaseCheck {
  researcher: string;
  jobId: string;
  /** Temp table (cell VARCHAR, h UBIGINT), distinct rows: the person sets of the cells about to be released. */
  candidates: string;
  /**
   * Candidates this job withholds after all (a band the complementary rules withhold, so that the cohort minus the
   * released bands does not give a small band back): remembered as withheld. A withheld set must stay unknown, so a
   * released cell within 0 … k − 1 persons of a withheld one — before or after it — is refused too (red team 12:
   * a second job's concept identical to the first job's withheld band gave the small band back).
   */
  withheld?: readonly string[];
  minCellSize: number;
  maxRememberedPersons: number;
}

export class ReleasedCells {
  private readonly mutex = new Mutex();

  private constructor() {}

  /** Whether the guard's tables exist in this database (an agent's, started at least once), without creating them. */
  static async present(conn: DuckDBConnection): Promise<boolean> {
    const r = (await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name IN ('${CELLS}', '${PERSONS}') AND NOT temporary`)).getRowObjectsJS();
    return Number(r[0]!['n']) === 2;
  }

  /**
   * What the guard remembers, per researcher (sorted): never the cells' names or persons, only how many. Read by
   * `fedmesh guard show` on the stopped agent's database (read-only).
   */
  static async remembered(conn: DuckDBConnection): Promise<RememberedSummary[]> {
    return rememberedRows(conn, undefined);
  }

  /** Creates the agent's tables if needed. */
  static async open(conn: DuckDBConnection): Promise<ReleasedCells> {
    await conn.run(`CREATE SEQUENCE IF NOT EXISTS ${CELLS}_seq`);
    await conn.run(`CREATE TABLE IF NOT EXISTS ${CELLS} (id BIGINT PRIMARY KEY, researcher VARCHAR NOT NULL, job_id VARCHAR NOT NULL, cell VARCHAR NOT NULL, persons BIGINT NOT NULL, released_at_ms BIGINT NOT NULL)`);
    await conn.run(`CREATE TABLE IF NOT EXISTS ${PERSONS} (researcher VARCHAR NOT NULL, cell_id BIGINT NOT NULL, h UBIGINT NOT NULL)`);
    // Added after the first release: an agent state from before gets the column, every remembered cell released.
    await conn.run(`ALTER TABLE ${CELLS} ADD COLUMN IF NOT EXISTS withheld BOOLEAN DEFAULT false`);
    return new ReleasedCells();
  }

  /**
   * Refuses the release if any candidate cell differs from a remembered cell of the same researcher by 1 … k − 1
   * persons; otherwise remembers the candidates (those not identical to a remembered cell). Atomic per agent.
   * @throws FedmeshError POLICY_DENIED naming the rule (differencing, or the memory bound)
   */
  async checkAndRecord(conn: DuckDBConnection, c: ReleaseCheck): Promise<{ cells: number; persons: number }> {
    return this.mutex.run(async () => {
      const cand = `"${c.candidates.replace(/"/g, '')}"`;
      const withheldNew = [...new Set(c.withheld ?? [])];
      // Cell names are the job's public labels (age:40-49, gender:8507), quoted as SQL strings.
      const isWithheld = (col: string): string => (withheldNew.length > 0 ? `(${col} IN (${withheldNew.map((w) => `'${w.replace(/'/g, "''")}'`).join(', ')}))` : 'false');
      const sizes = `(SELECT cell, count(*)::BIGINT AS n FROM ${cand} GROUP BY cell)`;
      const overlaps = `(SELECT x.cell, p.cell_id, count(*)::BIGINT AS i FROM ${cand} x JOIN ${PERSONS} p ON p.h = x.h AND p.researcher = $1 GROUP BY ALL)`;
      const pairs = `SELECT s.cell, o.id AS old_id, o.job_id AS old_job, o.withheld AS old_withheld, ${isWithheld('s.cell')} AS new_withheld, s.n + o.persons - 2 * v.i AS diff FROM ${overlaps} v JOIN ${sizes} s ON s.cell = v.cell JOIN ${CELLS} o ON o.id = v.cell_id`;
      // Two released sets 1 … k − 1 apart; or a released set and a withheld one 0 … k − 1 apart (either may be the
      // new one). Two withheld sets leave nothing to subtract from.
      const refused = `(NOT old_withheld AND NOT new_withheld AND diff BETWEEN 1 AND $2 - 1) OR (old_withheld <> new_withheld AND diff BETWEEN 0 AND $2 - 1)`;
      const bad = (await conn.runAndReadAll(`SELECT cell, old_job FROM (${pairs}) WHERE ${refused} LIMIT 1`, [c.researcher, c.minCellSize])).getRowObjectsJS();
      if (bad.length > 0) {
        throw new FedmeshError(
          'POLICY_DENIED',
          `differencing guard (mode none): a cell of this job counts a set of persons that differs from a cell released to you earlier (job ${String(bad[0]!.old_job)}) by between 1 and ${c.minCellSize - 1} persons, or is within ${c.minCellSize - 1} persons of a cell withheld from you; releasing both would disclose those persons. Use a DP privacy mode, or a query whose persons differ by at least ${c.minCellSize}`,
          { field: 'privacy.mode' },
        );
      }
      const news = (await conn.runAndReadAll(`SELECT s.cell, s.n, ${isWithheld('s.cell')} AS withheld FROM ${sizes} s WHERE NOT EXISTS (SELECT 1 FROM (${pairs}) q WHERE q.cell = s.cell AND q.diff = 0)`, [c.researcher])).getRowObjectsJS();
      if (news.length === 0) return { cells: 0, persons: 0 };
      const adding = news.reduce((a, r) => a + Number(r.n), 0);
      const held = Number((await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${PERSONS} WHERE researcher = $1`, [c.researcher])).getRowObjectsJS()[0]!.n);
      if (held + adding > c.maxRememberedPersons) {
        throw new FedmeshError('POLICY_DENIED', `differencing guard (mode none): this agent remembers at most ${c.maxRememberedPersons} released (cell, person) pairs per researcher and will not forget any, so it releases no more exact cells to you; use a DP privacy mode`, { field: 'privacy.mode' });
      }
      await conn.run('BEGIN TRANSACTION');
      try {
        const now = Date.now();
        for (const r of news) {
          const id = Number((await conn.runAndReadAll(`SELECT nextval('${CELLS}_seq')::BIGINT AS id`)).getRowObjectsJS()[0]!.id);
          await conn.run(`INSERT INTO ${CELLS} (id, researcher, job_id, cell, persons, released_at_ms, withheld) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [id, c.researcher, c.jobId, String(r.cell), Number(r.n), now, r.withheld === true]);
          await conn.run(`INSERT INTO ${PERSONS} SELECT $1, $2, h FROM ${cand} WHERE cell = $3`, [c.researcher, id, String(r.cell)]);
        }
        await conn.run('COMMIT');
      } catch (e) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
      return { cells: news.length, persons: adding };
    });
  }

  /**
   * Drops everything remembered about a researcher (a deliberate act of the domain, e.g. after a data refresh), in
   * one transaction. Returns what was dropped.
   */
  async forget(conn: DuckDBConnection, researcher: string): Promise<RememberedSummary> {
    return this.mutex.run(async () => {
      const before = (await rememberedRows(conn, researcher))[0] ?? { researcher, cells: 0, persons: 0, jobs: 0, lastReleasedAtMs: null };
      await conn.run('BEGIN TRANSACTION');
      try {
        await conn.run(`DELETE FROM ${PERSONS} WHERE researcher = $1`, [researcher]);
        await conn.run(`DELETE FROM ${CELLS} WHERE researcher = $1`, [researcher]);
        await conn.run('COMMIT');
      } catch (e) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
      return before;
    });
  }

}

/** How much the guard remembers about one researcher. */
export interface RememberedSummary {
  researcher: string;
  /** Released cells remembered. */
  cells: number;
  /** (cell, person) pairs remembered, the quantity `maxRememberedPersons` bounds. */
  persons: number;
  /** Jobs those cells came from. */
  jobs: number;
  /** When the newest remembered cell was released (ms since the epoch), null when none. */
  lastReleasedAtMs: number | null;
}

async function rememberedRows(conn: DuckDBConnection, researcher: string | undefined): Promise<RememberedSummary[]> {
  const where = researcher === undefined ? '' : 'WHERE researcher = $1';
  const rows = (
    await conn.runAndReadAll(
      `SELECT researcher, count(*)::BIGINT AS cells, coalesce(sum(persons), 0)::BIGINT AS persons, count(DISTINCT job_id)::BIGINT AS jobs, max(released_at_ms)::BIGINT AS last FROM ${CELLS} ${where} GROUP BY researcher ORDER BY researcher`,
      researcher === undefined ? [] : [researcher],
    )
  ).getRowObjectsJS();
  return rows.map((r) => ({ researcher: String(r['researcher']), cells: Number(r['cells']), persons: Number(r['persons']), jobs: Number(r['jobs']), lastReleasedAtMs: r['last'] === null ? null : Number(r['last']) }));
}
