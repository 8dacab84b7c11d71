/**
 * The Cox kind at the agent: round 0 builds the job's cohorts and returns per-bin small/big flags for the merge
 * rule; each Newton round returns the risk-set sums at the round's β on the round's merged grid, after the
 * disclosure checks of node-agent/analytics/cox.ts. Rows, ids and dates never leave.
 *
 * Where the persons are held (issue 13):
 * - On the agent's own DuckDB (localStep) the followed persons are read once, on the first round, into a design
 *   kept in the job's state at this agent for the later rounds.
 * - On a site's PostgreSQL (onSource) no round keeps them: every round builds the cohorts on the server again
 *   (TEMP tables, dropped after), streams the followed persons through a cursor in person order and tallies, batch
 *   by batch, only what that round needs (node-agent/analytics/cox-tally.ts): the disclosure counts, the round-0
 *   bin counts, the round's sums — bit for bit those of the in-memory path. Between rounds the job's state holds
 *   O(bins × strata × p²) numbers and a fingerprint of the rows the first round saw (their count and a SHA-256);
 *   a round whose rows differ fails with FAILED_PRECONDITION. The price: a cohort build and one pass over the
 *   persons on the server per round.
 * In mode none the persons go through the differencing guard once, on the first round (guard.ts).
 */
import { FedmeshError } from '../../common/errors.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import type { AgentKindContext, AgentKindDef, StatVector } from '../../common/kinds/index.js';
import { binOf, packedSize, type CoxStats } from '../../algorithms/survival/index.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { asSession, runCohort } from '../../node-agent/cohort/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { checkCoxBeta, coxAgentStats, coxBinCounts, coxDesignChunk, coxDesignMeta, coxRefused, readCoxData, streamCoxRows, type CoxAgentData, type CoxAgentOptions } from '../../node-agent/analytics/cox.js';
import { createCoxRowsFingerprint, createCoxTally, type CoxTally } from '../../node-agent/analytics/cox-tally.js';
import { COX_KIND, evaluatedBeta, newtonBlocks, type CompiledCoxJob, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from './kind.js';
import { centreFactor, scaleRiskSums, transformCumulative } from './privacy.js';
import { withFollowedGuard } from './guard.js';

/** Job-state keys: the in-memory design (own DuckDB); the first round's rows (PostgreSQL); the guard was run. */
const DATA = 'data';
const SEEN = 'seen';
const GUARDED = 'guarded';

/** What a PostgreSQL agent keeps of the rows between rounds: no value, only enough to notice a change. */
interface SeenRows {
  persons: number;
  dropped: number;
  rows: number;
  sha256: string;
}

function scratch(jobId: string, suffix: string): string {
  return `fedmesh_cox_${jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}_${suffix}`;
}

/** Whether this job's persons still go through the differencing guard at this agent (mode none, once). */
function guardDue(ctx: AgentKindContext, job: CompiledCoxJob): boolean {
  return job.privacy.mode === 'none' && ctx.guardReleasedSets !== undefined && !ctx.jobState.has(GUARDED);
}

/**
 * Builds the job's cohorts in scratch tables of `db` (the agent's DuckDB, or a session of the site's PostgreSQL),
 * runs `read` with the read options over them, and drops them.
 */
async function withCohorts<T>(ctx: AgentKindContext, job: CompiledCoxJob, db: DuckDBConnection | SqlSession, read: (session: SqlSession, opts: CoxAgentOptions) => Promise<T>): Promise<T> {
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
    return await read(session, { targetTable: target, outcome, timeGrid: spec.timeGrid, strata: spec.strata, covariates: spec.covariates });
  } finally {
    for (const t of [target, outcomeTable]) await session.run(session.dialect.dropTempTable(t)).catch(() => undefined);
  }
}

/**
 * The agent's own DuckDB: the followed persons of the job, read once into a design kept for the job's rounds. The
 * guard's hashes are computed in the agent's own DuckDB (ctx.conn).
 */
async function loadData(ctx: AgentKindContext, job: CompiledCoxJob, db: DuckDBConnection): Promise<CoxAgentData> {
  const guard = guardDue(ctx, job);
  const data = await withCohorts(ctx, job, db, (session, opts) => readCoxData(session, { ...opts, withIds: guard }));
  if (guard) await withFollowedGuard(ctx, guardedSetSize(job.secure, ctx.policy.minCellSize), async (add) => add(data.ids ?? [], data.persons.event));
  delete data.ids;
  if (guard) ctx.jobState.set(GUARDED, true);
  return data;
}

/**
 * A site's PostgreSQL: one round's pass over the followed persons, built and streamed on the server, tallied batch
 * by batch (nothing row-level kept). The first round records the rows' fingerprint (and, in mode none, puts the
 * persons through the guard as they stream); a later round whose rows differ fails.
 * @throws FedmeshError FAILED_PRECONDITION when the rows changed since the job's first round (no value named)
 */
async function streamRound(ctx: AgentKindContext, job: CompiledCoxJob, session: SqlSession, round: { times: readonly number[]; beta?: readonly number[] }, signal: AbortSignal): Promise<CoxTally> {
  const { covariates } = job.spec;
  const byGender = job.spec.strata === 'gender';
  const tally = createCoxTally({ covariates, byGender, ...round });
  const fingerprint = createCoxRowsFingerprint();
  const guard = guardDue(ctx, job);
  await withCohorts(ctx, job, session, async (s, opts) => {
    // The ids are read in every round: the fingerprint covers who the persons are, not only their values.
    const read = async (add?: (ids: readonly string[], event: ArrayLike<number>) => void): Promise<void> => {
      for await (const rows of streamCoxRows(s, { ...opts, withIds: true })) {
        signal.throwIfAborted();
        fingerprint.add(rows);
        const chunk = coxDesignChunk(rows, covariates, byGender);
        tally.add(chunk);
        add?.(chunk.ids!, chunk.persons.event);
      }
    };
    if (guard) await withFollowedGuard(ctx, guardedSetSize(job.secure, ctx.policy.minCellSize), read);
    else await read();
  });
  const digest = fingerprint.digest();
  const now: SeenRows = { persons: tally.persons, dropped: tally.dropped, rows: digest.rows, sha256: digest.sha256 };
  const seen = ctx.jobState.get(SEEN) as SeenRows | undefined;
  if (seen === undefined) ctx.jobState.set(SEEN, now);
  else if (seen.persons !== now.persons || seen.dropped !== now.dropped || seen.rows !== now.rows || seen.sha256 !== now.sha256) {
    throw new FedmeshError('FAILED_PRECONDITION', 'the data changed on the server during the job');
  }
  if (guard) ctx.jobState.set(GUARDED, true);
  return tally;
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
function onJobGrid(plan: CoxPlan, merged: readonly number[], stats: CoxStats): StatVector {
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

/** Round 0's release from per-bin counts: flags only, small (0 < count < minimum cell size) and big (≥ it). */
function countFlags(plan: CoxPlan, rows: { counts: (number | null)[] }[], k: number): StatVector {
  if (rows.length !== plan.countRows.length) throw new FedmeshError('INTERNAL', 'cox count rows differ from the plan');
  const small = rows.flatMap((r) => r.counts.map((v) => (v !== null && v > 0 && v < k ? 1 : 0)));
  const big = rows.flatMap((r) => r.counts.map((v) => (v !== null && v >= k ? 1 : 0)));
  return { values: Float64Array.from([...small, ...big]) };
}

/** A Newton round's input checked: the merged grid and the β to evaluate at. */
function newtonInput(plan: CoxPlan, input: CoxRoundInput): { times: number[]; beta: number[]; dp: boolean } {
  if (input.phase === 'counts') throw new FedmeshError('INTERNAL', 'not a Newton round');
  if (!Array.isArray(input.beta) || input.beta.length !== plan.terms.length) throw new FedmeshError('INVALID_ARGUMENT', `round input beta must have ${plan.terms.length} entries`, { field: 'beta' });
  const times = checkMergedTimes(plan, input.times);
  const dp = plan.sensitivity !== null;
  // DP: the job grid unmerged (a merged grid would put a person in two increments), no cell suppression.
  if (dp && times.length !== plan.times.length) throw new FedmeshError('INVALID_ARGUMENT', 'round input times: in the DP modes the bins are not merged', { field: 'times' });
  return { times, beta: evaluatedBeta(plan, input.beta), dp };
}

/** A Newton round's vector from its statistics: centred back, and in the DP modes as per-bin increments. */
function newtonVector(plan: CoxPlan, times: readonly number[], beta: readonly number[], stats: CoxStats, dp: boolean): StatVector {
  const v = onJobGrid(plan, times, stats);
  const blocks = newtonBlocks(plan).blocks;
  scaleRiskSums(v.values, blocks, centreFactor(beta, plan.centre));
  if (dp) transformCumulative(v.values, blocks, plan.strataLabels.length, plan.times.length, plan.terms.length, true);
  return v;
}

/** One round on the agent's own DuckDB, over the followed persons read on the first round (kept in the job's state). */
async function coxStep(ctx: AgentKindContext, job: CompiledCoxJob, input: CoxRoundInput, signal: AbortSignal, db: DuckDBConnection): Promise<StatVector> {
  let data = ctx.jobState.get(DATA) as CoxAgentData | undefined;
  if (data === undefined) {
    data = await loadData(ctx, job, db);
    ctx.jobState.set(DATA, data);
  }
  signal.throwIfAborted();
  const plan = job.plan;
  if (input.phase === 'counts') {
    // DP: no cell suppression, so no flags (zeros: public, nothing charged for them).
    if (plan.sensitivity !== null) return { values: new Float64Array(2 * plan.countRows.length * plan.times.length) };
    return countFlags(plan, coxBinCounts(data, plan.times, null), ctx.policy.minCellSize);
  }
  const { times, beta, dp } = newtonInput(plan, input);
  // DP: no disclosure rule (the saturated-model rule too): whether a DP round answers must not depend on the data.
  return newtonVector(plan, times, beta, coxAgentStats(data, beta, times, dp ? null : ctx.policy.minCellSize), dp);
}

/** One round on a site's PostgreSQL: the persons streamed from the server for this round only (streamRound). */
async function coxSourceStep(ctx: AgentKindContext, job: CompiledCoxJob, input: CoxRoundInput, signal: AbortSignal, session: SqlSession): Promise<StatVector> {
  const plan = job.plan;
  if (input.phase === 'counts') {
    // The rows are read in the DP modes too: the first round records them (and fails early on a missing table).
    const tally = await streamRound(ctx, job, session, { times: plan.times }, signal);
    if (plan.sensitivity !== null) return { values: new Float64Array(2 * plan.countRows.length * plan.times.length) };
    return countFlags(plan, tally.binCounts(null), ctx.policy.minCellSize);
  }
  const { times, beta, dp } = newtonInput(plan, input);
  // As coxAgentStats: β checked first, then the disclosure rules, then the sums.
  checkCoxBeta(coxDesignMeta(job.spec.covariates, job.spec.strata === 'gender'), beta);
  const tally = await streamRound(ctx, job, session, { times, beta }, signal);
  const refusal = dp ? null : tally.refusal(ctx.policy.minCellSize);
  if (refusal !== null) throw coxRefused(refusal);
  return newtonVector(plan, times, beta, tally.stats(), dp);
}

export const coxAgentKind: AgentKindDef<CoxJobSpec, CoxPlan, CoxRoundInput> = {
  kind: COX_KIND,
  localStep: (ctx, job, input, signal) => coxStep(ctx, job, input, signal, ctx.conn),
  /**
   * On a site's PostgreSQL (issue 13): every round builds the cohorts and streams the followed persons there,
   * through a cursor, with the same dialect-compiled SQL; nothing is staged and no row is kept between rounds, so
   * every round needs the server (needsSource: the default, true).
   */
  // A server session, or the agent's own DuckDB connection (`streamsLocally`).
  onSource: (ctx, job, input, session, signal) => coxSourceStep(ctx, job, input, signal, asSession(session as SqlSession | DuckDBConnection)),
  streamsLocally: true,
};
