/**
 * The Kaplan–Meier kind at the agent: one local step, the exact counts of distinct persons of the target cohort
 * initially at risk per stratum and ending (event or censoring) in each bin of the public time grid
 * (node-agent/jobs/cell-jobs.ts `computeCells`: the cohort SQL and node-agent/analytics/survival.ts, the same code
 * as before the port), as the job's two blocks. On a site's PostgreSQL the cohorts are built and counted on the
 * server (`onSource`). Withholding small cells (mode none) and noise are the task runner's, not this step's. In mode
 * none the persons behind every cell (and the target cohort) go through the agent's differencing guard first
 * (`guardedCells`: with plain sums the cells of at least its minimum cell size, the ones that leave; inside a secure
 * sum any non-empty one), so a grid shifted by a day cannot difference two released bins.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { clipToSecureMaxRows, selectionApplies, WITHHELD, type AgentKindContext, type AgentKindDef, type StatVector } from '../../common/kinds/index.js';
import { SURVIVAL_STRATA, survivalTailCells } from '../../common/job/index.js';
import { cellSubsets } from '../../common/secure/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { computeCells, guardedCells } from '../../node-agent/jobs/cell-jobs.js';
import type { CompiledKmJob, KmPlan } from './index.js';
import type { KmSpec } from './spec.js';

async function kmStep(ctx: AgentKindContext, job: CompiledKmJob, db: DuckDBConnection | SqlSession, data: SqlSession | undefined): Promise<StatVector> {
  const guard = job.privacy.mode === 'none' && ctx.guardReleasedSets !== undefined;
  const minPersons = guardedSetSize(job.secure, ctx.policy.minCellSize);
  // Scratch tables are named after this id (computeCells keeps its first 24 characters): random first, so two
  // tasks of one job never share one.
  const scratch = `${randomBytes(6).toString('hex')}${ctx.jobId}`;
  const values = guard ? await guardedCells(ctx.conn, data, job.spec, scratch, ctx.salt, minPersons, (cand) => ctx.guardReleasedSets!(ctx.conn, cand)) : await computeCells(db, job.spec, scratch);
  const out = new Float64Array(job.plan.blocks.reduce((n, b) => n + b.cells.length, 0));
  let at = 0;
  for (const b of job.plan.blocks) for (const cell of b.cells) out[at++] = Number(values.get(cell) ?? 0n);
  if (selectionApplies(job) && job.secure === 'plain') withholdTails(job, out, ctx.policy.minCellSize);
  return clipToSecureMaxRows(job, { values: out });
}

/**
 * Mode none with plain sums: per stratum, the endpoint cells from `survivalTailCut` on are withheld here (marked;
 * the task runner then withholds the small cells as for any selection block), so that the persons still at risk
 * where the released curve stops are 0 or at least k at this agent (red team 30, F3). A stratum below k is
 * withheld by the runner, and with it every endpoint cell here (they would add up to it).
 */
function withholdTails(job: CompiledKmJob, out: Float64Array, k: number): void {
  const index = new Map<string, number>();
  let at = 0;
  for (const b of job.plan.blocks) for (const cell of b.cells) index.set(cell, at++);
  for (const cell of survivalTailCells(job.spec.timeGrid, SURVIVAL_STRATA[job.spec.strata], (c) => out[index.get(c)!]!, k)) out[index.get(cell)!] = WITHHELD;
  // A stratum of 1 … k − 1 persons (withheld by the runner) takes every endpoint cell along, zeros included: a
  // released 0 beside a withheld bin tells in which years those few persons died or were censored (red team 41, F1).
  for (const s of cellSubsets(job.spec)) {
    const n = out[index.get(s.total)!]!;
    if (n > 0 && n < k) for (const cell of s.entries) out[index.get(cell)!] = WITHHELD;
  }
}

export const kmAgentKind: AgentKindDef<KmSpec, KmPlan, null> = {
  kind: 'survival',
  /** Data on a database server: the cohorts are built and counted there; only the person ids cross, for the guard. */
  onSource(ctx, job, _input, session) {
    return kmStep(ctx, job, session as SqlSession, session as SqlSession);
  },
  localStep(ctx, job) {
    return kmStep(ctx, job, ctx.conn, undefined);
  },
};
