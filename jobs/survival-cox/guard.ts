/**
 * Mode none: the persons a Cox fit is made over go through the agent's differencing guard before any round is
 * answered (the ReleasedCells memory of contingency, aggregates, glm and train): two exact fits whose cohorts differ
 * by 1 … k − 1 persons would subtract to those persons' contributions. Two sets: the followed persons, and those with
 * an event — an outcome, `maxDays` or window moved to flip the status of 1 … k − 1 persons leaves the followed set as
 * it was, but not the events set (red team). Candidates: sets of at least `minPersons` (guardedSetSize).
 *
 * The ids arrive batch by batch (a cursor on the site's server) and go straight into a task-private TEMP table of
 * the agent's DuckDB through its appender, where they are keyed-hashed; no array of all ids is ever held. The
 * tables are dropped after. DuckDB's own text (it can quote an id) stays in `cause`.
 */
import { randomBytes } from 'node:crypto';
import { FedmeshError } from '../../common/errors.js';
import type { AgentKindContext } from '../../common/kinds/index.js';
import { personHashSql } from '../../node-agent/disclosure/released-cells.js';
import { guardDuckDb } from '../../node-agent/analytics/schema.js';

/** Adds a batch of used rows: each one's person id (as text) and whether it had an event. */
export type AddFollowed = (ids: readonly string[], event: ArrayLike<number>) => void;

/**
 * Runs `read`, which hands the followed persons to `add` batch by batch, then puts the sets through the guard.
 * When `read` fails nothing is guarded; the TEMP tables are dropped either way.
 * @throws FedmeshError POLICY_DENIED from the guard; INTERNAL (engine text in `cause`) when DuckDB fails
 */
export async function withFollowedGuard<T>(ctx: AgentKindContext, minPersons: number, read: (add: AddFollowed) => Promise<T>): Promise<T> {
  const id = randomBytes(6).toString('hex');
  const raw = `fedmesh_cox_ids_${id}`;
  const cand = `fedmesh_cox_guard_${id}`;
  try {
    await guardDuckDb('cox guard', () => ctx.conn.run(`CREATE TEMP TABLE "${raw}" (u VARCHAR, e BOOLEAN)`));
    const appender = await guardDuckDb('cox guard', () => ctx.conn.createAppender(raw, 'main', 'temp'));
    let result: T;
    try {
      result = await read((ids, event) => {
        try {
          ids.forEach((u, i) => {
            appender.appendVarchar(u);
            appender.appendBoolean(event[i] === 1);
            appender.endRow();
          });
        } catch (e) {
          throw new FedmeshError('INTERNAL', 'cox guard failed', { cause: e });
        }
      });
    } catch (e) {
      try {
        appender.closeSync();
      } catch {
        // The read's error is the one to report.
      }
      throw e;
    }
    // Closing flushes the last rows into the table.
    await guardDuckDb('cox guard', async () => appender.closeSync());
    const counts = await guardDuckDb('cox guard', async () => (await ctx.conn.runAndReadAll(`SELECT count(DISTINCT u) AS n, count(DISTINCT u) FILTER (WHERE e) AS ne FROM "${raw}"`)).getRowObjectsJS()[0]!);
    if (Number(counts['n']) < minPersons) return result;
    const events = Number(counts['ne']) >= minPersons ? ` UNION SELECT DISTINCT 'events' AS cell, ${personHashSql('u', '$1')} AS h FROM "${raw}" WHERE e` : '';
    await guardDuckDb('cox guard', () => ctx.conn.run(`CREATE TEMP TABLE "${cand}" AS SELECT DISTINCT 'followed' AS cell, ${personHashSql('u', '$1')} AS h FROM "${raw}"${events}`, [ctx.salt]));
    await ctx.guardReleasedSets!(ctx.conn, cand);
    return result;
  } finally {
    await ctx.conn.run(`DROP TABLE IF EXISTS "${raw}"`).catch(() => undefined);
    await ctx.conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
  }
}
