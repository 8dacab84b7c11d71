/**
 * The `contingency` kind at the agent: one local step, the exact count of distinct persons in each public cell of
 * the job's table (node-agent/analytics/contingency.ts: the one SQL function, also used on a staged PostgreSQL
 * product), as the job's one block. Withholding small cells (mode none) and noise are the task runner's, not this
 * step's. In mode none the persons behind the cells this agent will release go through its differencing guard
 * first (with plain sums the cells of at least its minimum cell size, the ones that leave; inside a secure sum every
 * non-empty cell), so two tables that differ by a few persons are not both released to one researcher.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { clipToSecureMaxRows, selectionApplies, WITHHELD, type AgentKindContext, type AgentKindDef, type StatVector } from '../../common/kinds/index.js';
import { contingencyCounts, type ContingencyFilter, type Level } from '../../node-agent/analytics/contingency.js';
import { guardedSetSize, personHashSql } from '../../node-agent/disclosure/released-cells.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { contingencyOnSource } from './agent-source.js';
import type { CompiledContingencyJob, ContingencyPlan } from './index.js';
import type { ContingencySpec } from './spec.js';
import { contingencyWithheld } from '../../common/job/index.js';

/**
 * The mode-none differencing guard over the cells this agent releases: with plain sums those of at least k persons
 * (the smaller ones are withheld here); inside a secure sum every non-empty cell, since nothing is withheld per agent
 * and a cell of 8 persons here and 8 elsewhere is released as 16 (red-team F5; node-agent/secure/secure-guard.ts).
 */
async function guardCells(conn: DuckDBConnection, sets: string, ctx: AgentKindContext, minPersons: number, withheld: readonly string[]): Promise<void> {
  const cand = `${sets}_cells`;
  // sql: duckdb-only (the person sets are a TEMP table of the agent's own DuckDB)
  await conn.run(`CREATE TEMP TABLE "${cand}" AS SELECT DISTINCT cell, h FROM "${sets}" WHERE cell IN (SELECT cell FROM "${sets}" GROUP BY cell HAVING count(DISTINCT h) >= $1)`, [minPersons]);
  try {
    // Places this agent withholds are remembered as withheld, never as released: a later cell with exactly their
    // persons is refused rather than answered (red team 42: a withheld complement re-queried as an identical set).
    await ctx.guardReleasedSets!(conn, cand, withheld);
  } finally {
    await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
  }
}

/**
 * Mode none with plain sums: the table's own disclosure rule on this agent's counts before anything leaves
 * (common/job/contingency-suppression.ts: a small place withholds the whole table), marked as withheld; the task
 * runner's small-cell rule then finds nothing more to do. Inside a secure sum the release applies the same rule to the
 * totals.
 */
function withholdTable(job: CompiledContingencyJob, v: StatVector, minCellSize: number): StatVector {
  const hide = tableWithheld(job, v.values, minCellSize);
  return hide.some(Boolean) ? { values: Float64Array.from(v.values, (x, i) => (hide[i] ? WITHHELD : x)) } : v;
}

/** Which places this agent withholds itself: with plain sums in mode none, the table's rule; else none. */
function tableWithheld(job: CompiledContingencyJob, values: Float64Array, minCellSize: number): boolean[] {
  if (!selectionApplies(job) || job.secure !== 'plain') return Array.from(values, () => false);
  return contingencyWithheld(Array.from(values), job.spec.rowLevels.length, job.spec.colLevels.length, minCellSize);
}

export const contingencyAgentKind: AgentKindDef<ContingencySpec, ContingencyPlan, null> = {
  kind: 'contingency',
  /** Data on a database server: counted there (agent-source.ts), staged only when the spec cannot be compiled exactly. */
  async onSource(ctx, job, _input, session) {
    const withheldOf = (values: Float64Array): string[] => {
      const hide = tableWithheld(job, values, ctx.policy.minCellSize);
      return job.plan.cells.filter((_, i) => hide[i]);
    };
    return withholdTable(job, clipToSecureMaxRows(job, await contingencyOnSource(ctx, job, session as SqlSession, () => contingencyStep(ctx, job), withheldOf)), ctx.policy.minCellSize);
  },
  async localStep(ctx, job) {
    return withholdTable(job, await contingencyStep(ctx, job), ctx.policy.minCellSize);
  },
};

/** This agent's exact counts of the table's places (the guard first, in mode none), before any withholding. */
async function contingencyStep(ctx: AgentKindContext, job: CompiledContingencyJob): Promise<StatVector> {
  const spec = job.spec;
  const guard = job.privacy.mode === 'none' && ctx.guardReleasedSets !== undefined;
  const sets = guard ? `fedmesh_ct_${ctx.jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}_${randomBytes(4).toString('hex')}` : undefined;
  try {
    const t = await contingencyCounts(ctx.conn, {
      table: ctx.product.name,
      rowColumn: spec.rowColumn,
      colColumn: spec.colColumn,
      rowLevels: spec.rowLevels as Level[],
      colLevels: spec.colLevels as Level[],
      where: spec.where as ContingencyFilter[],
      ...(ctx.product.privacyUnit ? { personColumn: ctx.product.privacyUnit } : {}),
      ...(sets ? { personSets: { table: sets, salt: ctx.salt, hashSql: personHashSql } } : {}),
    });
    const values = new Float64Array(job.plan.cells.length);
    let at = 0;
    for (const row of t.counts) for (const v of row) values[at++] = Number(v);
    values[at++] = Number(t.outside);
    values[at] = Number(t.ambiguous);
    // The table's rule decides first; the guard then sees what leaves and what this agent withholds.
    const hide = tableWithheld(job, values, ctx.policy.minCellSize);
    if (sets) await guardCells(ctx.conn, sets, ctx, guardedSetSize(job.secure, ctx.policy.minCellSize), job.plan.cells.filter((_, i) => hide[i]));
    return clipToSecureMaxRows(job, { values });
  } finally {
    if (sets) await ctx.conn.run(`DROP TABLE IF EXISTS "${sets}"`).catch(() => undefined);
  }
}
