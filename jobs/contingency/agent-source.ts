/**
 * The `contingency` local step on a site's own database server (issue 13): the counts are one GROUP BY compiled
 * through the dialect layer (node-agent/sql/contingency-counts.ts), run on the server, and only the at most
 * rows × cols + 2 counts come back — no copy of the product in the agent's DuckDB. The rule is the DuckDB step's
 * (node-agent/analytics/contingency.ts): each person in one place (a cell, outside, ambiguous); the vector is the
 * same. Patient consent scopes the server session itself (policy/consent-source.ts), before this runs.
 *
 * Mode none: the persons behind the places this agent will release go through its differencing guard, as on
 * DuckDB — the (place, unit) rows of the candidate places (guardedSetSize) are read through a cursor into a
 * task-private TEMP table of the agent's DuckDB and keyed-hashed there with the same hash, so the guard's memory is
 * shared with every other job. A spec the compiler cannot express exactly (a product without a privacy unit, a
 * level whose JSON type does not match its column's, a column type other than integer, double, boolean or text)
 * falls back to staging the columns the DuckDB step reads (row, column, filters, unit) and running that step.
 */
import type { AgentKindContext, CompiledKindJob, StatVector } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { DEFAULT_BATCH_ROWS, type SqlSession } from '../../node-agent/data/source/index.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { withStagedColumns } from '../../node-agent/jobs/aggregate-source.js';
import { contingencyCandidatesFromSource, contingencySourceQuery, contingencyStagedColumns } from '../../node-agent/jobs/contingency-source.js';
import { compileContingencyCounts, compileContingencyPersons, readContingencyCounts, type ContingencyQueryInput } from '../../node-agent/sql/contingency-counts.js';
import type { ContingencyPlan } from './index.js';
import type { ContingencySpec } from './spec.js';

/** The compiler's input for this job on this product, or undefined when it cannot be pushed down exactly. */
export function sourceQuery(spec: ContingencySpec, product: AgentKindContext['product']): ContingencyQueryInput | undefined {
  return contingencySourceQuery(spec, product);
}

/** Mode none: the candidate places' persons as local TEMP table (cell, h), through the guard. */
async function guardOnSource(session: SqlSession, q: ContingencyQueryInput, ctx: AgentKindContext, minPersons: number, withheld: readonly string[]): Promise<void> {
  const cand = await contingencyCandidatesFromSource(session, ctx.conn, compileContingencyPersons(session.dialect, q, minPersons), q.colLevels.length, ctx.salt);
  try {
    await ctx.guardReleasedSets!(ctx.conn, cand, withheld);
  } finally {
    await ctx.conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
  }
}

/**
 * The step on the server session, or the staged DuckDB step (`local`) when the spec cannot be compiled exactly.
 * @param local the DuckDB step, run over a staged copy of the product in the fallback
 * @param withheldOf the places this agent will withhold, by name, from its counts (the guard remembers them so)
 */
export async function contingencyOnSource(ctx: AgentKindContext, job: CompiledKindJob<ContingencySpec, ContingencyPlan>, session: SqlSession, local: () => Promise<StatVector>, withheldOf: (values: Float64Array) => readonly string[]): Promise<StatVector> {
  const q = sourceQuery(job.spec, ctx.product);
  let counts: { sql: string; params: (string | number | boolean)[] } | undefined;
  try {
    counts = q && compileContingencyCounts(session.dialect, q);
  } catch (e) {
    // A level of the wrong JSON type for its column: the staged path compares as DuckDB does.
    if (!(isFedmeshError(e) && e.code === 'INVALID_ARGUMENT')) throw e;
  }
  if (!q || !counts) return withStagedColumns(session, ctx.conn, ctx.product as never, contingencyStagedColumns(job.spec, ctx.product as never), [], local, DEFAULT_BATCH_ROWS, true);
  // One snapshot for the guard's person sets and the counts: the cells released are the sets remembered, even on a
  // database being written (red team).
  const oneSnapshot = <T>(fn: () => Promise<T>): Promise<T> => (session.snapshot ? session.snapshot(fn) : fn());
  return oneSnapshot(async () => {
    const t = readContingencyCounts(await session.all(counts!.sql, counts!.params), q.rowLevels.length, q.colLevels.length);
    const values = new Float64Array(job.plan.cells.length);
    let at = 0;
    for (const row of t.counts) for (const v of row) values[at++] = Number(v);
    values[at++] = Number(t.outside);
    values[at] = Number(t.ambiguous);
    // The counts first, then the guard over what leaves and what this agent withholds (red team 42).
    if (job.privacy.mode === 'none' && ctx.guardReleasedSets) await guardOnSource(session, q, ctx, guardedSetSize(job.secure, ctx.policy.minCellSize), withheldOf(values));
    return { values };
  });
}
