/**
 * The Cox kind at the agent: round 0 builds the job's cohorts, reads the followed persons with their covariates
 * once (kept in the job's state at this agent, never sent) and returns per-bin small/big flags for the merge rule;
 * each Newton round returns the risk-set sums at the round's β on the round's merged grid, after the disclosure
 * checks of node-agent/analytics/cox.ts.
 */
import { randomBytes } from 'node:crypto';
import { FedmeshError } from '../../common/errors.js';
import { guardedSetSize, personHashSql } from '../../node-agent/disclosure/released-cells.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import type { AgentKindContext, AgentKindDef, StatVector } from '../../common/kinds/index.js';
import { binOf, packedSize } from '../../algorithms/survival/index.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { asSession, runCohort } from '../../node-agent/cohort/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { coxAgentStats, coxBinCounts, readCoxData, type CoxAgentData } from '../../node-agent/analytics/cox.js';
import { COX_KIND, evaluatedBeta, newtonBlocks, type CompiledCoxJob, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from './kind.js';
import { centreFactor, scaleRiskSums, transformCumulative } from './privacy.js';

function scratch(jobId: string, suffix: string): string {
  return `fedmesh_cox_${jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}_${suffix}`;
}

/**
 * Mode none: the persons a fit is made over go through the agent's differencing guard before any round is answered
 * (the ReleasedCells memory of contingency, aggregates, glm and train): two exact fits whose cohorts differ by
 * 1 … k − 1 persons would subtract to those persons' contributions. Two sets: the followed persons, and those with
 * an event — an outcome, `maxDays` or window moved to flip the status of 1 … k − 1 persons leaves the followed set
 * as it was, but not the events set (red team). Candidates: sets of at least `minPersons` (guardedSetSize). The
 * ids are keyed-hashed in a task-private TEMP table and dropped.
 */
async function guardFollowed(ctx: AgentKindContext, ids: readonly string[], event: ArrayLike<number>, minPersons: number): Promise<void> {
  if (new Set(ids).size < minPersons) return;
  const withEvent = new Set(ids.filter((_, i) => event[i] === 1)).size;
  const id = randomBytes(6).toString('hex');
  const raw = `fedmesh_cox_ids_${id}`;
  const cand = `fedmesh_cox_guard_${id}`;
  await ctx.conn.run(`CREATE TEMP TABLE "${raw}" (u VARCHAR, e BOOLEAN)`);
  try {
    const appender = await ctx.conn.createAppender(raw, 'main', 'temp');
    try {
      ids.forEach((u, i) => {
        appender.appendVarchar(u);
        appender.appendBoolean(event[i] === 1);
        appender.endRow();
      });
    } finally {
      appender.closeSync();
    }
    const events = withEvent >= minPersons ? ` UNION SELECT DISTINCT 'events' AS cell, ${personHashSql('u', '$1')} AS h FROM "${raw}" WHERE e` : '';
    await ctx.conn.run(`CREATE TEMP TABLE "${cand}" AS SELECT DISTINCT 'followed' AS cell, ${personHashSql('u', '$1')} AS h FROM "${raw}"${events}`, [ctx.salt]);
    await ctx.guardReleasedSets!(ctx.conn, cand);
  } finally {
    await ctx.conn.run(`DROP TABLE IF EXISTS "${raw}"`).catch(() => undefined);
    await ctx.conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
  }
}

/**
 * The followed persons of the job at this agent: the cohorts are built in scratch tables of `db` (the agent's
 * DuckDB, or a session of the site's PostgreSQL), read through a cursor, and dropped. The guard's hashes are computed
 * in the agent's own DuckDB (ctx.conn) whichever engine held the rows.
 */
async function loadData(ctx: AgentKindContext, job: CompiledCoxJob, db: DuckDBConnection | SqlSession): Promise<CoxAgentData> {
  const spec: CoxJobSpec = job.spec;
  const session = asSession(db);
  const target = scratch(ctx.jobId, 't');
  const outcomeTable = scratch(ctx.jobId, 'o');
  try {
    await runCohort(session, parseCohortDefinition(spec.target, 'target'), { targetTable: target });
    let outcome: unknown;
    if ('definition' in spec.outcome) {
      await runCohort(session, parseCohortDefinition(spec.outcome.definition, 'outcome.definition'), { targetTable: outcomeTable });
      outcome = { table: outcomeTable };
    } else {
      outcome = spec.outcome;
    }
    const guard = job.privacy.mode === 'none' && ctx.guardReleasedSets !== undefined;
    const data = await readCoxData(session, { targetTable: target, outcome, timeGrid: spec.timeGrid, strata: spec.strata, covariates: spec.covariates, withIds: guard });
    if (guard) await guardFollowed(ctx, data.ids ?? [], data.persons.event, guardedSetSize(job.secure, ctx.policy.minCellSize));
    delete data.ids;
    return data;
  } finally {
    for (const t of [target, outcomeTable]) await session.run(session.dialect.dropTempTable(t)).catch(() => undefined);
  }
}

/**
 * A merged grid must be a subsequence of the job grid that ends where it ends (anything else is refused: a
 * coordinator could otherwise ask for bins the public rule never made).
 */
function checkMergedTimes(plan: CoxPlan, times: unknown): number[] {
  const grid = new Set(plan.times);
  if (!Array.isArray(times) || times.length === 0 || times.length > plan.times.length) throw new FedmeshError('INVALID_ARGUMENT', 'round input times must be a non-empty subsequence of the job grid', { field: 'times' });
  times.forEach((t: unknown, i) => {
    if (typeof t !== 'number' || !grid.has(t) || (i > 0 && !(t > (times[i - 1] as number)))) throw new FedmeshError('INVALID_ARGUMENT', `round input times[${i}] is not an increasing bin end of the job grid`, { field: 'times' });
  });
  if (times.at(-1) !== plan.times.at(-1)) throw new FedmeshError('INVALID_ARGUMENT', 'round input times must end at the job grid\'s last bin end', { field: 'times' });
  return times as number[];
}

/** The stats on the merged grid laid out on the job grid: each merged bin at its first original bin. */
function onJobGrid(plan: CoxPlan, merged: readonly number[], data: CoxAgentData, beta: readonly number[], minCellSize: number): StatVector {
  const stats = coxAgentStats(data, beta, merged, minCellSize);
  const m = plan.times.length;
  const mg = merged.length;
  const s = stats.strata;
  const p = stats.p;
  const q = packedSize(p);
  const firstOf = new Array<number>(mg).fill(-1);
  plan.times.forEach((t, k) => {
    const g = binOf(merged, t);
    if (firstOf[g] === -1) firstOf[g] = k;
  });
  const place = (src: Float64Array, width: number): Float64Array => {
    const out = new Float64Array(s * m * width);
    for (let st = 0; st < s; st++) for (let g = 0; g < mg; g++) for (let j = 0; j < width; j++) out[(st * m + firstOf[g]!) * width + j] = src[(st * mg + g) * width + j]!;
    return out;
  };
  const parts = [place(stats.atRisk, 1), place(stats.events, 1), place(stats.s0, 1), place(stats.s1, p), place(stats.s2, q), stats.eventX];
  const values = new Float64Array(parts.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const part of parts) {
    values.set(part, at);
    at += part.length;
  }
  return { values };
}

/** One round at this agent over its followed persons, read from `db` the first time (kept in the job's state). */
async function coxStep(ctx: AgentKindContext, job: CompiledCoxJob, input: CoxRoundInput, signal: AbortSignal, db: DuckDBConnection | SqlSession): Promise<StatVector> {
  let data = ctx.jobState.get('data') as CoxAgentData | undefined;
  if (data === undefined) {
    data = await loadData(ctx, job, db);
    ctx.jobState.set('data', data);
  }
  signal.throwIfAborted();
  const plan = job.plan;
  if (input.phase === 'counts') {
    const dp = plan.sensitivity !== null;
    // DP: no cell suppression, so no flags (zeros: public, nothing charged for them).
    if (dp) return { values: new Float64Array(2 * plan.countRows.length * plan.times.length) };
    // Flags only, no counts: small (0 < count < minimum cell size) and big (≥ it) per row and bin.
    const rows = coxBinCounts(data, plan.times, null);
    if (rows.length !== plan.countRows.length) throw new FedmeshError('INTERNAL', 'cox count rows differ from the plan');
    const k = ctx.policy.minCellSize;
    const small = rows.flatMap((r) => r.counts.map((v) => (v !== null && v > 0 && v < k ? 1 : 0)));
    const big = rows.flatMap((r) => r.counts.map((v) => (v !== null && v >= k ? 1 : 0)));
    return { values: Float64Array.from([...small, ...big]) };
  }
  if (!Array.isArray(input.beta) || input.beta.length !== plan.terms.length) throw new FedmeshError('INVALID_ARGUMENT', `round input beta must have ${plan.terms.length} entries`, { field: 'beta' });
  const times = checkMergedTimes(plan, input.times);
  const dp = plan.sensitivity !== null;
  // DP: the job grid unmerged (a merged grid would put a person in two increments), no cell suppression.
  if (dp && times.length !== plan.times.length) throw new FedmeshError('INVALID_ARGUMENT', 'round input times: in the DP modes the bins are not merged', { field: 'times' });
  const beta = evaluatedBeta(plan, input.beta);
  const v = onJobGrid(plan, times, data, beta, dp ? 1 : ctx.policy.minCellSize);
  const blocks = newtonBlocks(plan).blocks;
  scaleRiskSums(v.values, blocks, centreFactor(beta, plan.centre));
  if (dp) transformCumulative(v.values, blocks, plan.strataLabels.length, plan.times.length, plan.terms.length, true);
  return v;
}

export const coxAgentKind: AgentKindDef<CoxJobSpec, CoxPlan, CoxRoundInput> = {
  kind: COX_KIND,
  localStep: (ctx, job, input, signal) => coxStep(ctx, job, input, signal, ctx.conn),
  /**
   * On a site's PostgreSQL (issue 13): the cohorts are built and the followed persons read there, through a cursor,
   * with the same dialect-compiled SQL; nothing is staged. Later rounds use the rows kept in the job's state.
   */
  onSource: (ctx, job, input, session, signal) => coxStep(ctx, job, input, signal, session as SqlSession),
  needsSource: (_job, state) => !state.has('data'),
};
