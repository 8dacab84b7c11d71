/**
 * The `glm` kind at the agent: reads the job's design once (design.ts: where, cohort, dummy coding, missing values,
 * clamping, DP contribution bounding, disclosure rules) and keeps it for the job's later rounds; each round is one
 * pass of algorithms/glm's local statistics at the round's public β.
 *
 * On a site's own database server (issue 13, `onSource`) nothing row-level is kept between rounds: every round
 * builds the design there again — the cohort built, the rows selected, bounded and counted for the disclosure rules
 * on the server, in its dialect — and streams the design's numeric columns through a cursor into a pass that holds
 * one chunk of rows at a time (startGlmStreamPass; chunks of a multiple of 4 rows, so the statistics are those of
 * one pass over all rows, bit for bit). The job's state keeps only a fingerprint of the rows (their count and a
 * SHA-256 of their values in order): a later round over other rows — the server's data changed mid-job — fails
 * with FAILED_PRECONDITION rather than mix two data sets in one fit. In mode none the persons go through the
 * differencing guard the first time. Nothing is staged in the agent's DuckDB.
 */
import { createHash } from 'node:crypto';
import { glmFamily, glmLocalStatsChunked, glmStatsToVector, standardiseColumn, startGlmStreamPass, type GlmDesign, type GlmLocalStats, type GlmRoundInput, type GlmWeightSpread } from '../../algorithms/glm/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { AgentKindContext, AgentKindDef, CompiledKindJob, StatVector } from '../../common/kinds/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { readGlmDesign, withGlmRows, type GlmAgentDesign, type GlmReadOptions } from './design.js';
import { designPersonGuard } from './person-guard.js';
import type { GlmJobInput, GlmPlan } from './index.js';
import { checkBetaSpan, checkWeightSpread, termSpans } from './round-rules.js';
import { checkScales, localMoments, momentsAccumulator } from './standardise.js';
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
  // Refused here, before any read: round 1 is at the starting values (β null), every later round at a β.
  if ((i.round === 1) !== (i.beta === null)) throw new FedmeshError('INVALID_ARGUMENT', 'payload.input: round 1 of a glm is evaluated at beta null, every later round at a beta', { field: 'payload' });
  return { round: i.round!, beta: i.beta!, nullBeta0: i.nullBeta0! };
}

/** The round's request, checked: the moments round, or an IRLS round with its public scales. */
interface GlmRoundRequest {
  readonly moments: boolean;
  readonly input: GlmRoundInput | undefined;
  readonly scales: ReturnType<typeof checkScales> | undefined;
}

function roundRequest(job: CompiledKindJob<GlmJob, GlmPlan>, rawInput: GlmJobInput): GlmRoundRequest {
  const std = job.plan.standardise ?? [];
  const moments = std.length > 0 && (rawInput as Partial<GlmJobInput> | null)?.round === 0;
  if (moments && (rawInput as { moments?: unknown }).moments !== true) throw new FedmeshError('INVALID_ARGUMENT', 'payload.input: round 0 of a standardised glm is the moments round {round: 0, moments: true}', { field: 'payload' });
  const input = moments ? undefined : checkInput(rawInput, job.plan.terms.length);
  const scales = std.length > 0 && !moments ? checkScales((rawInput as { scales?: unknown }).scales, std) : undefined;
  return { moments, input, scales };
}

/** How the design is read at this agent (everything but where the rows are). */
function readOptions(ctx: AgentKindContext, job: CompiledKindJob<GlmJob, GlmPlan>, guard: boolean): GlmReadOptions {
  const std = job.plan.standardise ?? [];
  const scratch = `glm_${ctx.jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}`;
  // Standardised columns are read raw (identity scale, exact) and scaled once the public scales arrive.
  const identity = Object.fromEntries(std.map((c) => [c.column, { mean: 0, sd: 1 }]));
  // Mode none: the persons behind the rows go through the agent's differencing guard first (person-guard.ts).
  const none = job.spec.privacy.mode === 'none';
  const guarded = (cell?: string) => designPersonGuard({ salt: ctx.salt, minPersons: guardedSetSize(job.spec.secure, ctx.policy.minCellSize), guard: ctx.guardReleasedSets!, local: ctx.conn, ...(cell ? { cell: () => `'${cell}'` } : {}) });
  const onRows = guard && none && ctx.guardReleasedSets ? guarded() : undefined;
  // Mode none: the dropped rows' count leaves only from k persons, and their persons go through the guard as a set.
  const dropped = none ? { droppedMinPersons: Math.max(1, ctx.policy.minCellSize), ...(guard && ctx.guardReleasedSets ? { onDropped: guarded('dropped') } : {}) } : {};
  // DP modes: no disclosure rule at the reader (red team 26, F1: a refusal there answers about the data exactly, and a
  // bisected `where` read one person's attribute); the noise protects the release. Mode none: DataSHIELD's rules.
  return { salt: ctx.salt, minCellSize: ctx.policy.minCellSize, ...(job.spec.privacy.mode === 'none' ? {} : { skipDisclosure: true }), scratch, ordered: true, ...(ctx.cohortMembers ? { cohortMembers: ctx.cohortMembers } : {}), ...(job.spec.privacy.mode === 'none' ? { numericCells: true } : {}), ...(std.length > 0 ? { standardisation: identity } : {}), ...(onRows ? { onRows } : {}), ...dropped };
}

/**
 * Mode none: the round's β against the public widths (round-rules.ts) of the columns as scaled by `applied` — the
 * scales the agent applies, which must be the ones it checks against (red team 19: widths from one round's SD and
 * data scaled by a later round's narrower SD let a β pass that singles out one age). `cache`: keep the widths in the
 * job's state (the DuckDB path, whose design is scaled once).
 */
function checkRoundBeta(ctx: AgentKindContext, job: CompiledKindJob<GlmJob, GlmPlan>, input: GlmRoundInput | undefined, applied: GlmRoundRequest['scales'], cache: boolean): void {
  // In mode none the round's β is the coordinator's, and nothing but these rules stands between a hostile β and one
  // person's row (round-rules.ts). In the DP modes the clamp bounds every row's effect whatever β is, and the noise
  // covers it; a noisy β may legitimately be steep there.
  if (job.spec.privacy.mode !== 'none' || !input) return;
  const std = job.plan.standardise ?? [];
  let spans = cache ? (ctx.jobState.get(SPANS) as number[] | undefined) : undefined;
  // Public widths (declared bounds; / the SD applied).
  if (!spans) spans = termSpans(glmTerms(job.spec.covariates).map((t) => t.bounds), new Map(std.map((c, k) => [c.term, applied?.[k]?.sd ?? 1])));
  if (cache) ctx.jobState.set(SPANS, spans);
  checkBetaSpan(job.spec.family, input.beta, spans, job.plan.terms);
}

/** The round's statistics as the kind's vector: the IRLS statistics and the dropped rows. */
function roundVector(ctx: AgentKindContext, job: CompiledKindJob<GlmJob, GlmPlan>, stats: GlmLocalStats, spread: GlmWeightSpread, n: number, nDropped: number, input: GlmRoundInput): StatVector {
  if (job.spec.privacy.mode === 'none') checkWeightSpread(spread, ctx.policy.minCellSize, job.plan.etaClamp !== null, n, input.nullBeta0 !== null);
  const v = glmStatsToVector(stats);
  const out = new Float64Array(v.length + 1);
  out.set(v);
  out[v.length] = nDropped;
  return { values: out };
}

/** One round at this agent on its own DuckDB: the design is read the first time and kept for the later rounds. */
async function glmStep(ctx: AgentKindContext, job: CompiledKindJob<GlmJob, GlmPlan>, rawInput: GlmJobInput, signal: AbortSignal): Promise<StatVector> {
  const std = job.plan.standardise ?? [];
  const req = roundRequest(job, rawInput);
  let d = ctx.jobState.get(DESIGN) as GlmAgentDesign | undefined;
  if (!d) {
    d = await readGlmDesign(ctx.conn, job.spec, ctx.product, readOptions(ctx, job, true), signal);
    ctx.jobState.set(DESIGN, d);
    ctx.jobState.delete(SCALED);
    ctx.jobState.delete(SPANS);
  }
  const { input, scales } = req;
  if (!input) return { values: localMoments(d.design, std) };
  if (scales && ctx.jobState.get(SCALED) !== true) {
    scales.forEach((s, k) => standardiseColumn(d.design, std[k]!.term, s.mean, s.sd));
    ctx.jobState.set(SCALED, true);
    ctx.jobState.delete(SPANS);
  }
  checkRoundBeta(ctx, job, input, scales, true);
  let spread: GlmWeightSpread | undefined;
  // In chunks, yielding between them: a pass over millions of rows must not starve the agent's heartbeats.
  const stats = await glmLocalStatsChunked(d.design, glmFamily(job.spec.family), input, job.plan.etaClamp ? { etaClamp: job.plan.etaClamp } : {}, { signal, onSpread: (x) => void (spread = x) });
  return roundVector(ctx, job, stats, spread!, d.design.n, d.nDropped, input);
}

/** Rows per chunk of a round streamed from a server: a multiple of 4 (the pass's blocks); about 3 MB at p = 20. */
export const GLM_STREAM_CHUNK_ROWS = 16_384;

/** Fingerprint of the rows a server round read (see the file comment). */
const FINGERPRINT = 'glm-rows-fingerprint';
/** The public scales the first IRLS round applied; later rounds apply these, whatever scales they carry. */
const APPLIED_SCALES = 'glm-applied-scales';

function hashChunk(h: ReturnType<typeof createHash>, c: GlmDesign): void {
  // −0 and +0 tie in ORDER BY, so their order between two rounds may differ: hashed alike (red team 19, F4).
  for (const a of [c.x, c.y, c.offset, c.weights]) if (a) h.update(new Uint8Array(Float64Array.from(a, (v) => v + 0).buffer));
}

/** One round at this agent on a site's database server: the design is built and streamed there every round. */
async function glmServerStep(ctx: AgentKindContext, job: CompiledKindJob<GlmJob, GlmPlan>, rawInput: GlmJobInput, signal: AbortSignal, session: SqlSession): Promise<StatVector> {
  const std = job.plan.standardise ?? [];
  const req = roundRequest(job, rawInput);
  const { input } = req;
  const stored = ctx.jobState.get(APPLIED_SCALES) as GlmRoundRequest['scales'];
  const scales = stored ?? req.scales;
  checkRoundBeta(ctx, job, input, scales, false);
  // The persons go through the guard until a round has read every row (the fingerprint): a round that fails after
  // the guard and before the fingerprint (a cancel, a lost connection) must not let a later round skip it (red team 19).
  const guard = !ctx.jobState.has(FINGERPRINT);
  return withGlmRows(session, job.spec, ctx.product, readOptions(ctx, job, guard), signal, async (rows) => {
    const h = createHash('sha256').update(`${rows.n} ${rows.nDropped} ${rows.p}\n`);
    const moments = input ? undefined : momentsAccumulator(std);
    const pass = input ? startGlmStreamPass(rows.p, glmFamily(job.spec.family), input, job.plan.etaClamp ? { etaClamp: job.plan.etaClamp } : {}) : undefined;
    for await (const chunk of rows.chunks(GLM_STREAM_CHUNK_ROWS)) {
      signal.throwIfAborted();
      hashChunk(h, chunk);
      if (moments) moments.add(chunk);
      else {
        scales?.forEach((s, k) => standardiseColumn(chunk, std[k]!.term, s.mean, s.sd));
        pass!.add(chunk);
      }
    }
    const fingerprint = h.digest('hex');
    const seen = ctx.jobState.get(FINGERPRINT) as string | undefined;
    if (seen !== undefined && seen !== fingerprint) throw new FedmeshError('FAILED_PRECONDITION', 'glm: the rows of this job changed on the database server between two rounds (data loaded or deleted during the fit); run the job again', { field: 'product' });
    // Every row was read: the rows (guarded in this first read) and the scales applied to them are bound to the job.
    ctx.jobState.set(FINGERPRINT, fingerprint);
    if (scales && !stored) ctx.jobState.set(APPLIED_SCALES, scales);
    if (moments) return { values: moments.finish() };
    return roundVector(ctx, job, pass!.finish(), pass!.spread(), rows.n, rows.nDropped, input!);
  });
}

export const glmAgentKind: AgentKindDef<GlmJob, GlmPlan, GlmJobInput> = {
  kind: 'glm',
  localStep: (ctx, job, input, signal) => glmStep(ctx, job, input, signal),
  // On a server every round reads there (nothing row-level is kept between rounds).
  onSource: (ctx, job, input, session, signal) => glmServerStep(ctx, job, input, signal, session as SqlSession),
  streamsLocally: true,
};
