/**
 * The `glm` job kind on the kind seam: parse (spec.ts) → compile (terms, public round bound, DP sensitivity per
 * block) → per round the summed statistics of algorithms/glm's Fisher scoring → release R's summary (view.ts).
 * The agent side is agent.ts (the design read once per job by design.ts, then one local step per round).
 */
import { FedmeshError } from '../../common/errors.js';
import { rhoForEpsilonDelta } from '../../algorithms/dp/index.js';
import {
  advanceGlmFit,
  GlmSingularDesignError,
  glmCoefficientNoiseStd,
  glmFamily,
  glmRoundSensitivity,
  glmStatLayout,
  glmStatsFromVector,
  glmSummary,
  maxGlmRounds,
  startGlmFit,
  type GlmAdvance,
  type GlmRoundInput,
} from '../../algorithms/glm/index.js';
import { kindPrivacyOf, type CompiledKindJob, type KindDef, type KindRelease, type RoundRecord, type StatBlock, type StatLayout } from '../../common/kinds/index.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/index.js';
import { glmOutcomeBounds, glmTerms, parseGlmSpec, type GlmJob } from './spec.js';
import { glmJson, glmReleased, renderGlmTable, type GlmReleased } from './view.js';
import { backTransform, momentsLayout, scalesFromMoments, standardisedColumns, standardisedTerms, STANDARDISED_BOUND, type ColumnScale, type GlmMomentsInput, type StandardisedColumn } from './standardise.js';

/** A glm round's input: the moments round, or an IRLS round (with the public scales when standardising). */
export type GlmJobInput = GlmMomentsInput | (GlmRoundInput & { readonly scales?: readonly ColumnScale[] });

/** The public plan of a compiled glm job. */
export interface GlmPlan {
  readonly terms: readonly string[];
  readonly hasOffset: boolean;
  /** The η clamp every agent applies in the DP modes (it bounds each row's contribution); null in mode none. */
  readonly etaClamp: readonly [number, number] | null;
  /** Per-person sensitivity of each block: round 1 and later rounds (DP modes only). */
  readonly sensitivity: { readonly round1: Readonly<Record<string, { l1: number; l2Sq: number }>>; readonly later: Readonly<Record<string, { l1: number; l2Sq: number }>> } | null;
  /**
   * Public per-agent bound of every entry of each block (secure sums: rows cap × the largest |entry| one row can
   * put there), round 1 and later rounds; null with plain sums (then only finiteness is checked).
   */
  readonly agentAbsMax: { readonly round1: Readonly<Record<string, number>>; readonly later: Readonly<Record<string, number>> } | null;
  /**
   * With declared ranges: each block's fixed-point grid exponent, so sums are exact integers and plain, secagg and
   * he sums agree to the last bit (2^-72 of the block's per-agent bound at the default row cap: exact to the double for any agent with up to 2^-19 of the cap's magnitude, well under the 1e-9
   * relative error allowed); in the DP modes only for blocks without noise (the noise picks the others' grid).
   * null: floating-point sums.
   */
  readonly gridExponents: { readonly round1: Readonly<Record<string, number>>; readonly later: Readonly<Record<string, number>> } | null;
  /** Standardised covariates (standardise.ts): round 0 is their moments round and the IRLS rounds follow. Absent: none. */
  readonly standardise?: readonly StandardisedColumn[];
}

export type CompiledGlmJob = CompiledKindJob<GlmJob, GlmPlan>;

/** Rows dropped at the agent (missing or unusable values), appended to algorithms/glm's layout. */
export const DROPPED_BLOCK = 'nDropped';
/** Per-agent bound of every entry: finite, and far above any real sum (the layout check guards NaN and ∞). */
const ENTRY_BOUND = 1e300;
const DEFAULT_TIMEOUT_MS = 30_000;

/** Bits of fixed-point precision below an entry's per-agent bound: more than a double holds (53), so an agent far below the cap still keeps every bit. */
const GRID_BITS = 72;
/** The finest grid a layout may declare (checkLayout). */
const MIN_GRID_EXPONENT = -60;

function compileGlm(spec: GlmJob): Omit<CompiledGlmJob, 'hash'> {
  const mode = spec.privacy.mode;
  const secure = spec.secure ?? 'plain';
  const rawTerms = glmTerms(spec.covariates);
  const std = standardisedColumns(spec, rawTerms);
  const firstStd = std[0];
  if (firstStd && mode !== 'none') {
    const f = `covariates[${firstStd.covariate}].standardise`;
    throw new FedmeshError('INVALID_JOB', `${f}: standardising is available in privacy mode none only (in ${mode} the later rounds' sensitivity would depend on the mean and SD released by the first round); leave it out or use mode none`, { field: f });
  }
  // The IRLS rounds see standardised columns, bounded by ±1/SD floor (standardise.ts).
  const terms = standardisedTerms(rawTerms, std);
  const hasOffset = spec.offset !== undefined;
  let sensitivity: GlmPlan['sensitivity'] = null;
  let etaClamp: GlmPlan['etaClamp'] = null;
  let agentAbsMax: GlmPlan['agentAbsMax'] = null;
  let gridExponents: GlmPlan['gridExponents'] = null;
  const outcome = glmOutcomeBounds(spec);
  if (outcome !== undefined && spec.weights === undefined && (!hasOffset || spec.offsetBounds)) {
    const k = spec.privacy.maxRowsPerPerson ?? 1;
    const s = glmRoundSensitivity(spec.family, terms.map((t) => t.bounds), outcome, k, spec.offsetBounds ? { offsetBounds: spec.offsetBounds } : {});
    const withDropped = (r: Readonly<Record<string, { l1: number; l2Sq: number }>>) => ({ ...r, [DROPPED_BLOCK]: { l1: k, l2Sq: k * k } });
    // Rows one agent may hold (public): the secure sum's bounds, and the scale of the fixed-point grid.
    const rows = spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
    const absMax = (r: Readonly<Record<string, number>>) => ({ ...Object.fromEntries(Object.entries(r).map(([b, v]) => [b, rows * v])), [DROPPED_BLOCK]: rows });
    const grids = (r: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(absMax(r)).map(([b, v]) => [b, Math.max(MIN_GRID_EXPONENT, Math.ceil(Math.log2(Math.max(v, 1))) - GRID_BITS)]));
    if (mode !== 'none') sensitivity = { round1: withDropped(s.round1), later: withDropped(s.later) };
    // The η clamp bounds each row's contribution: applied in the DP modes and under secure sums.
    if (mode !== 'none' || secure !== 'plain') etaClamp = s.etaClamp;
    if (secure !== 'plain') agentAbsMax = { round1: absMax(s.rowAbsMax.round1), later: absMax(s.rowAbsMax.later) };
    gridExponents = { round1: grids(s.rowAbsMax.round1), later: grids(s.rowAbsMax.later) };
  }
  return {
    kind: 'glm',
    product: spec.product,
    privacy: kindPrivacyOf(spec.privacy),
    secure,
    ...(spec.secureThreshold !== undefined ? { secureThreshold: spec.secureThreshold } : {}),
    maxRounds: maxGlmRounds(spec.maxIterations, hasOffset) + (std.length > 0 ? 1 : 0),
    roundTimeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    // IRLS is exact only over the same agents in every round: quorum is a floor at admission, never leave to drop
    // an agent mid-fit; named agents are the fixed set (run-options.ts).
    dropout: 'fail',
    minAgents: spec.quorum ?? 1,
    ...(spec.agents ? { agents: spec.agents } : {}),
    spec,
    plan: { terms: terms.map((t) => t.name), hasOffset, etaClamp, sensitivity, agentAbsMax, gridExponents, ...(std.length > 0 ? { standardise: std } : {}) },
  };
}

/** The layout of every round: algorithms/glm's blocks, then the dropped-row count. */
function glmLayout(job: CompiledGlmJob, roundIndex: number): StatLayout {
  const std = job.plan.standardise;
  if (std && roundIndex === 0) return momentsLayout(std, job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS, job.secure !== 'plain');
  // With a moments round first, IRLS round k is the job's round k + 1.
  const round = std ? roundIndex - 1 : roundIndex;
  const p = job.plan.terms.length;
  const pick = <T>(r: { round1: T; later: T } | null): T | null => (r ? (round === 0 ? r.round1 : r.later) : null);
  const sens = pick(job.plan.sensitivity);
  const abs = pick(job.plan.agentAbsMax);
  const grid = pick(job.plan.gridExponents ?? null);
  const block = (name: string, length: number): StatBlock => {
    const bound = abs ? abs[name]! : ENTRY_BOUND;
    // In the DP modes the noise chooses a noisy block's grid; a block no person can change keeps the row grid.
    const g = sens && sens[name]!.l2Sq > 0 ? undefined : grid?.[name];
    return { name, length, perAgent: { lo: -bound, hi: bound }, sensitivity: sens ? sens[name]! : 'exact-only', ...(g !== undefined ? { gridExponent: g } : {}), release: 'additive' };
  };
  return { blocks: [...glmStatLayout(p).map((b) => block(b.name, b.length)), block(DROPPED_BLOCK, 1)] };
}

/** Replays the fit over the released rounds (pure and cheap: one solve per round). */
function replay(job: CompiledGlmJob, allRounds: readonly RoundRecord<GlmJobInput>[]): GlmAdvance {
  const history = job.plan.standardise ? allRounds.slice(1) : allRounds;
  const p = job.plan.terms.length;
  const family = glmFamily(job.spec.family);
  // Noisy sums (central-dp) may make XᵀWX indefinite: the fit repairs it with a recorded ridge instead of refusing.
  let step = startGlmFit(family, p, { maxIterations: job.spec.maxIterations, hasOffset: job.plan.hasOffset, noisy: job.privacy.mode !== 'none' });
  try {
    for (const rec of history) {
      if (step.done) break;
      step = advanceGlmFit(family, step.state, glmStatsFromVector(p, rec.released.slice(0, rec.released.length - 1)));
    }
  } catch (e) {
    if (e instanceof GlmSingularDesignError) throw new FedmeshError('FAILED_PRECONDITION', `the model cannot be fitted: ${e.message} (a term is aliased: constant or a combination of others in the pooled data)`, { field: 'covariates' });
    if (e instanceof RangeError) throw new FedmeshError('FAILED_PRECONDITION', `the model cannot be fitted: ${e.message}`, { field: 'covariates' });
    throw e;
  }
  return step;
}

/** The public scales from the moments round (undefined without standardised covariates or before round 0 ends). */
function scalesOf(job: CompiledGlmJob, history: readonly RoundRecord<GlmJobInput>[]): ColumnScale[] | undefined {
  const std = job.plan.standardise;
  return std && history[0] ? scalesFromMoments(std, history[0].released) : undefined;
}

function releaseGlm(job: CompiledGlmJob, history: readonly RoundRecord<GlmJobInput>[]): KindRelease {
  const step = replay(job, history);
  const scales = scalesOf(job, history);
  const family = glmFamily(job.spec.family);
  const last = history[history.length - 1]!;
  const nDropped = Math.max(0, Math.round(last.released[last.released.length - 1]!));
  const notes: string[] = [];
  const dp = job.privacy.mode !== 'none';
  const where = { 'central-dp': 'the coordinator added discrete Gaussian noise to every round\'s sums', 'local-dp': 'every agent added the full discrete Gaussian noise to its own statistics', 'distributed-dp': 'every agent added a discrete Gaussian share to its statistics before the secure sum' }[job.privacy.mode as 'central-dp'];
  if (dp) notes.push(`${job.privacy.mode}: ${where} (standard deviation of the noise in each summed block in privacy.noiseStd); estimates, standard errors and deviances are computed from the noisy sums; nDropped counts at most maxRowsPerPerson dropped rows per person.`);
  if (job.secure !== 'plain') notes.push(`secure ${job.secure}: the coordinator saw only each round's sum, never one agent's statistics.`);
  if (!dp) notes.push('nDropped counts the rows left out (missing or invalid values, unlisted levels) at agents where they are of at least the minimum cell size of persons; an agent with fewer reports 0 (red team 26), and the persons behind the dropped rows are a released set for the differencing guard.');
  if (scales) {
    notes.push(`standardised covariates (as R's scale()): ${scales.map((s) => `scale(${s.column}) = (${s.column} − ${s.mean}) / ${s.sd}`).join('; ')}; pooled mean and SD (n − 1) over the ${scales[0]!.n} rows used, from a first federated round of sums.`);
    for (const s of scales) if (s.sdFloored) notes.push(`${s.column}: its pooled SD was below the public floor (declared range × 2^-16, the bound ±${STANDARDISED_BOUND} of a standardised value); the floor was used, so scale(${s.column}) is not R's scale() here.`);
  }
  const summary = glmSummary(family, step.state, job.plan.terms);
  // Stated per coefficient: the score's noise through (XᵀWX)⁻¹ (see algorithms/glm/noisy.ts).
  const rhsStd = last.noiseStd[glmLayout(job, scales ? 2 : 1).blocks.findIndex((b) => b.name === 'rhs')] ?? 0;
  const coefficientNoiseStd = dp ? glmCoefficientNoiseStd(job.plan.terms.length, summary.covUnscaled, rhsStd) : undefined;
  const released = glmReleased(summary, { nDropped, notes, ...(coefficientNoiseStd ? { coefficientNoiseStd } : {}) });
  const rho = dp ? (job.privacy.rho ?? rhoForEpsilonDelta(job.privacy.epsilon!, job.privacy.delta!)) : 0;
  const blocks = glmLayout(job, Math.min(1, history.length - 1) + (scales ? 1 : 0)).blocks.map((b) => b.name);
  return {
    columns: released.columns,
    rows: released.rows,
    summary: {
      ...released.summary,
      ...(scales && job.plan.standardise
        ? {
            standardisation: Object.fromEntries(scales.map((s) => [s.column, { mean: s.mean, sd: s.sd, sdFloored: s.sdFloored }])),
            // The same fit on the original scale of the standardised covariates (the terms R's glm(y ~ x) names).
            originalScale: backTransform(job.plan.terms, glmTerms(job.spec.covariates).map((t) => t.name), summary.coefficients.map((c) => c.estimate), summary.covUnscaled.map((v) => v * summary.dispersion), job.plan.standardise, scales),
          }
        : {}),
    },
    notes: released.notes,
    privacy: {
      mode: job.privacy.mode,
      secure: job.secure,
      ...(dp ? { epsilon: job.privacy.epsilon, delta: job.privacy.delta, rho, roundsCharged: job.maxRounds, etaClamp: job.plan.etaClamp, maxRowsPerPerson: job.spec.privacy.maxRowsPerPerson ?? 1 } : {}),
      ...(dp ? { noiseStd: Object.fromEntries(blocks.map((n, i) => [n, last.noiseStd[i]])) } : {}),
    },
  };
}

export const glmKind: KindDef<GlmJob, GlmPlan, GlmJobInput> = {
  kind: 'glm',
  parse: parseGlmSpec,
  compile: compileGlm,
  // Under a secure sum every block is bounded by secureMaxRows rows (agentAbsMax): agreed, not chosen, in mode none.
  secureRowBound: { field: 'secureMaxRows', of: (spec) => spec.secureMaxRows, withBound: (spec, rows) => ({ ...spec, secureMaxRows: rows }) },
  layout: glmLayout,
  nextRound: (job, history) => {
    if (job.plan.standardise && history.length === 0) return { round: 0, moments: true };
    const step = replay(job, history);
    if (step.done) return undefined;
    const scales = scalesOf(job, history);
    return scales ? { ...step.input, scales } : step.input;
  },
  release: (job, history) => releaseGlm(job, history),
  view: (r) => renderGlmTable(r as unknown as GlmReleased),
  viewJson: (r) => ({ ...glmJson(r as unknown as GlmReleased) }),
};
