/**
 * The `glm` kind at the agent: reads the job's design once (design.ts: where, cohort, dummy coding, missing values,
 * clamping, DP contribution bounding, disclosure rules) and keeps it for the job's later rounds; each round is one
 * pass of algorithms/glm's local statistics at the round's public β.
 *
 * On a site's own database server (issue 13, `onSource`) the design is read there: the cohort is built, the rows
 * selected, bounded and counted for the disclosure rules on the server, in its dialect, and only the design's
 * numeric columns come back through a cursor (and, in mode none, the persons for the differencing guard) — nothing
 * is staged in the agent's DuckDB. Later rounds use the design kept in the job's state, as on DuckDB.
 */
import { glmFamily, glmLocalStatsChunked, glmStatsToVector, standardiseColumn, type GlmRoundInput, type GlmWeightSpread } from '../../algorithms/glm/index.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import type { AgentKindContext, AgentKindDef, CompiledKindJob, StatVector } from '../../common/kinds/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { readGlmDesign, type GlmAgentDesign } from './design.js';
import { designPersonGuard } from './person-guard.js';
import type { GlmJobInput, GlmPlan } from './index.js';
import { checkBetaSpan, checkWeightSpread, termSpans } from './round-rules.js';
import { checkScales, localMoments } from './standardise.js';
import { glmTerms, type GlmJob } from './spec.js';

const DESIGN = 'glm-design';
/** Set once the cached design's standardised columns have been scaled in place (so it happens exactly once). */
const SCALED = 'glm-scaled';
/** Each design column's public width (after scaling), for the β span rule. */
const SPANS = 'glm-spans';

function checkInput(input: unknown, p: number): GlmRoundInput {
  const i = input as Partial<GlmRoundInput> | null;
  const okBeta = (b: unknown): boolean => b === null || (Array.isArray(b) && b.length === p && b.every((x) => typeof x === 'number' && Number.isFinite(x)));
  if (!i || typeof i !== 'object' || !Number.isSafeInteger(i.round) || (i.round as number) < 1 || !okBeta(i.beta) || !(i.nullBeta0 === null || (typeof i.nullBeta0 === 'number' && Number.isFinite(i.nullBeta0)))) {
    throw new FedmeshError('INVALID_ARGUMENT', `payload.input: a glm round needs {round >= 1, beta: null or ${p} finite numbers, nullBeta0: null or a finite number}`, { field: 'payload' });
  }
  return { round: i.round!, beta: i.beta!, nullBeta0: i.nullBeta0! };
}

/** One round at this agent; the design is read from `db` (the agent's DuckDB or a server session) the first time. */
async function glmStep(ctx: AgentKindContext, job: CompiledKindJob<GlmJob, GlmPlan>, rawInput: GlmJobInput, signal: AbortSignal, db: DuckDBConnection | SqlSession): Promise<StatVector> {
  const std = job.plan.standardise ?? [];
  const moments = std.length > 0 && (rawInput as Partial<GlmJobInput> | null)?.round === 0;
  if (moments && (rawInput as { moments?: unknown }).moments !== true) throw new FedmeshError('INVALID_ARGUMENT', 'payload.input: round 0 of a standardised glm is the moments round {round: 0, moments: true}', { field: 'payload' });
  const input = moments ? undefined : checkInput(rawInput, job.plan.terms.length);
  const scales = std.length > 0 && !moments ? checkScales((rawInput as { scales?: unknown }).scales, std) : undefined;
  let d = ctx.jobState.get(DESIGN) as GlmAgentDesign | undefined;
  if (!d) {
    const scratch = `glm_${ctx.jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}`;
    // Standardised columns are read raw (identity scale, exact) and scaled in place once the public scales arrive.
    const identity = Object.fromEntries(std.map((c) => [c.column, { mean: 0, sd: 1 }]));
    // Mode none: the persons behind the rows go through the agent's differencing guard first (person-guard.ts).
    const onRows = job.spec.privacy.mode === 'none' && ctx.guardReleasedSets ? designPersonGuard({ salt: ctx.salt, minPersons: guardedSetSize(job.spec.secure, ctx.policy.minCellSize), guard: ctx.guardReleasedSets, local: ctx.conn }) : undefined;
    d = await readGlmDesign(db, job.spec, ctx.product, { salt: ctx.salt, minCellSize: ctx.policy.minCellSize, scratch, ordered: true, ...(ctx.cohortMembers ? { cohortMembers: ctx.cohortMembers } : {}), ...(job.spec.privacy.mode === 'none' ? { numericCells: true } : {}), ...(std.length > 0 ? { standardisation: identity } : {}), ...(onRows ? { onRows } : {}) }, signal);
    ctx.jobState.set(DESIGN, d);
    ctx.jobState.delete(SCALED);
    ctx.jobState.delete(SPANS);
  }
  if (!input) return { values: localMoments(d.design, std) };
  if (scales && ctx.jobState.get(SCALED) !== true) {
    scales.forEach((s, k) => standardiseColumn(d.design, std[k]!.term, s.mean, s.sd));
    ctx.jobState.set(SCALED, true);
    ctx.jobState.delete(SPANS);
  }
  // Mode none: the round's β is the coordinator's, and nothing but these rules stands between a hostile β and one
  // person's row (round-rules.ts). In the DP modes the clamp bounds every row's effect whatever β is, and the
  // noise covers it; a noisy β may legitimately be steep there.
  const exact = job.spec.privacy.mode === 'none';
  if (exact) {
    let spans = ctx.jobState.get(SPANS) as number[] | undefined;
    // Public widths (declared bounds; / the SD applied, computed in the round that applies it).
    if (!spans) ctx.jobState.set(SPANS, (spans = termSpans(glmTerms(job.spec.covariates).map((t) => t.bounds), new Map(std.map((c, k) => [c.term, scales?.[k]?.sd ?? 1])))));
    checkBetaSpan(job.spec.family, input.beta, spans, job.plan.terms);
  }
  let spread: GlmWeightSpread | undefined;
  // In chunks, yielding between them: a pass over millions of rows must not starve the agent's heartbeats.
  const stats = await glmLocalStatsChunked(d.design, glmFamily(job.spec.family), input, job.plan.etaClamp ? { etaClamp: job.plan.etaClamp } : {}, { signal, onSpread: (x) => void (spread = x) });
  if (exact) checkWeightSpread(spread!, ctx.policy.minCellSize, job.plan.etaClamp !== null, d.design.n, input.nullBeta0 !== null);
  const v = glmStatsToVector(stats);
  const out = new Float64Array(v.length + 1);
  out.set(v);
  out[v.length] = d.nDropped;
  return { values: out };
}

export const glmAgentKind: AgentKindDef<GlmJob, GlmPlan, GlmJobInput> = {
  kind: 'glm',
  localStep: (ctx, job, input, signal) => glmStep(ctx, job, input, signal, ctx.conn),
  onSource: (ctx, job, input, session, signal) => glmStep(ctx, job, input, signal, session as SqlSession),
  needsSource: (_job, state) => !state.has(DESIGN),
};
