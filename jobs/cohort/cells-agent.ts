/**
 * The cohort and characterize kinds at the agent: one local step, the exact counts of distinct persons in the job's
 * public cells (node-agent/jobs/cell-jobs.ts `computeCells`: the cohort SQL and node-agent/analytics, the same code as
 * before the port), in the layout's order. On a site's PostgreSQL the cohort is built and counted on the server
 * (`onSource`). In mode none the persons behind every cell go through the agent's differencing guard first
 * (`guardedCells`), and with plain sums a concept cell 1 … k − 1 persons from a cell kept before it in the job is
 * withheld (node-agent/disclosure/within-job.ts; red team 9, F3); a cohort below k persons releases no entry count
 * either (rows would tell what the withheld person count hides). Withholding small cells and noise are the task runner's, not this step's.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { clipToSecureMaxRows, type AgentKindContext, type AgentKindDef, type StatVector, WITHHELD, withholdSmallCells } from '../../common/kinds/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { computeCells, guardedCells } from '../../node-agent/jobs/cell-jobs.js';
import { cohortCellKind, type CohortCellKind, type CohortCellPlan, type CohortCellSpec, type CompiledCohortCellJob } from './cells-kind.js';

/** The vector of `values` in the layout's order (a missing cell is 0). */
function vectorOf(job: CompiledCohortCellJob, values: ReadonlyMap<string, bigint>): StatVector {
  const out = new Float64Array(job.plan.blocks.reduce((n, b) => n + b.cells.length, 0));
  let at = 0;
  for (const b of job.plan.blocks) for (const cell of b.cells) out[at++] = Number(values.get(cell) ?? 0n);
  return { values: out };
}

/**
 * The cells the task runner's small-cell and complementary rules (common/kinds/selection.ts) will withhold from these
 * exact values, as this agent will apply them after the step: the within-job rule must not take them as kept.
 */
function laterWithheld(job: CompiledCohortCellJob, values: ReadonlyMap<string, bigint>, minCellSize: number): Set<string> {
  const kind = cohortCellKind(job.spec.kind);
  const after = withholdSmallCells(kind.layout(job, 0), vectorOf(job, values), minCellSize).vector.values;
  const cells = job.plan.blocks.flatMap((b) => b.cells);
  return new Set(cells.filter((_, i) => after[i] === WITHHELD));
}

async function step(ctx: AgentKindContext, job: CompiledCohortCellJob, db: DuckDBConnection | SqlSession, data: SqlSession | undefined): Promise<StatVector> {
  const guard = job.privacy.mode === 'none' && ctx.guardReleasedSets !== undefined;
  // Scratch tables are named after this id (computeCells keeps its first 24 characters): random first.
  const scratch = `${randomBytes(6).toString('hex')}${ctx.jobId}`;
  const values = guard
    ? await guardedCells(ctx.conn, data, job.spec, scratch, ctx.salt, guardedSetSize(job.secure, ctx.policy.minCellSize), (cand, withheld) => ctx.guardReleasedSets!(ctx.conn, cand, withheld), job.secure === 'plain' ? { withinJob: { minCellSize: ctx.policy.minCellSize, laterWithheld: (v) => laterWithheld(job, v, ctx.policy.minCellSize) } } : {})
    : await computeCells(db, job.spec, scratch);
  const persons = values.get('persons');
  if (job.privacy.mode === 'none' && job.secure === 'plain' && persons !== undefined && persons < BigInt(ctx.policy.minCellSize) && values.has('entries')) values.set('entries', persons);
  return clipToSecureMaxRows(job, vectorOf(job, values));
}

/** The agent side of `cohort` or `characterize`. */
export function cohortCellAgentKind(kind: CohortCellKind): AgentKindDef<CohortCellSpec, CohortCellPlan, null> {
  return {
    kind,
    /** Data on a database server: the cohort is built and counted there; only person ids cross, for the guard. */
    onSource: (ctx, job, _input, session) => step(ctx, job, session as SqlSession, session as SqlSession),
    localStep: (ctx, job) => step(ctx, job, ctx.conn, undefined),
  };
}
