/**
 * The mode-none differencing guard over every released cell of a cohort-level job (cohort, characterize, survival;
 * red team 8, F1): the analytics functions hand the person-level form of each counting query to a
 * {@link PersonSetSink}; the pairs (cell, person) land in a task-private TEMP table of the agent's own DuckDB, are
 * keyed-hashed there with the hash every other job uses, and the cells of at least `minPersons` persons go to the
 * guard as candidates in one check. Before, only the cohort itself was guarded, so a job that kept the cohort and
 * moved a public boundary (an age band edge, the characterisation window, the survival grid) released two cells of
 * k or more persons that differed by a few.
 *
 * On a site's PostgreSQL the pairs stream through a cursor straight into the local table. On DuckDB the query runs on
 * the same connection as the local table (its TEMP cohort tables live there), so a batch is appended only after the
 * stream that read it has ended: the pairs are held as two strings per (cell, person) meanwhile.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PersonSetSink } from '../analytics/person-sets.js';
import { asSession } from '../cohort/index.js';
import type { SqlSession } from '../data/source/index.js';
import { personHashSql } from '../disclosure/released-cells.js';
import { FedmeshError } from '../../common/errors.js';

/** The most (cell, person) pairs one job's guard reads at an agent (about 150 bytes each while held). */
export const MAX_JOB_PAIRS = 4_000_000;

export interface CellSets {
  /** Hand this to the analytics functions. */
  readonly sink: PersonSetSink;
  /**
   * The cells with at least `minPersons` distinct persons as TEMP table `(cell, h)`, given to `check` (the guard),
   * then dropped. A set below `minPersons` is withheld (plain) and never a candidate.
   */
  check(salt: string, minPersons: number, check: (candidates: string) => Promise<unknown>): Promise<void>;
  /** Drops the pairs table. */
  close(): Promise<void>;
}

/**
 * @param conn the agent's own DuckDB (the guard's memory)
 * @param db where the job's data is queried: `conn` itself, or a session of the site's server
 */
export async function openCellSets(conn: DuckDBConnection, db: DuckDBConnection | SqlSession): Promise<CellSets> {
  const pairs = `fedmesh_cs_${randomBytes(8).toString('hex')}`;
  await conn.run(`CREATE TEMP TABLE "${pairs}" (cell VARCHAR, u VARCHAR)`);
  const session = asSession(db);
  // Another engine: append while streaming. The agent's DuckDB: the read and the appends share the connection.
  const remote = session.dialect.name !== 'duckdb';
  const append = async (rows: readonly (readonly [string, string])[]): Promise<void> => {
    if (rows.length === 0) return;
    const appender = await conn.createAppender(pairs, 'main', 'temp');
    try {
      for (const [cell, u] of rows) {
        appender.appendVarchar(cell);
        appender.appendVarchar(u);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  };
  let pairsSeen = 0;
  const sink: PersonSetSink = async (sql, params, cellsOf) => {
    const held: [string, string][] = [];
    for await (const batch of session.stream(sql, params)) {
      const out: [string, string][] = remote ? [] : held;
      for (const r of batch) {
        const u = r['person_id'];
        if (u === null || u === undefined) continue;
        for (const cell of cellsOf(r)) out.push([cell, String(u)]);
      }
      pairsSeen += remote ? out.length : 0;
      // Bounded before it can exhaust the agent's memory (red team 9, F4): a job this large is refused by the guard's
      // own limit anyway (maxRememberedPersons, 2 M pairs by default), only later.
      if (pairsSeen + held.length > MAX_JOB_PAIRS) {
        throw new FedmeshError('RESOURCE_EXHAUSTED', `differencing guard (mode none): this job's cells count more than ${MAX_JOB_PAIRS} (cell, person) pairs at this agent; use fewer concepts or strata, or a DP privacy mode`, { field: 'privacy.mode' });
      }
      if (remote) await append(out);
    }
    pairsSeen += held.length;
    if (!remote) await append(held);
  };
  return {
    sink,
    async check(salt, minPersons, check) {
      const cand = `${pairs}_cells`;
      try {
        // sql: duckdb-only (the pairs are a table of the agent's own DuckDB)
        await conn.run(
          `CREATE TEMP TABLE "${cand}" AS SELECT DISTINCT cell, ${personHashSql('u', '$1')} AS h FROM "${pairs}" WHERE cell IN (SELECT cell FROM "${pairs}" GROUP BY cell HAVING count(DISTINCT u) >= $2)`,
          [salt, minPersons],
        );
        await check(cand);
      } finally {
        await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
      }
    },
    async close() {
      await conn.run(`DROP TABLE IF EXISTS "${pairs}"`).catch(() => undefined);
    },
  };
}
