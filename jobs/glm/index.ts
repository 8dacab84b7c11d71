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
import type { CompiledKindJob, KindDef, KindRelease, RoundRecord, StatBlock, StatLayout } from '../../common/kinds/index.js';
import { glmOutcomeBounds, glmTerms, parseGlmSpec, type GlmJob } from './spec.js';
import { glmJson, glmReleased, renderGlmTable, type GlmReleased } from './view.js';

/** The public plan of a compiled glm job. */
export interface GlmPlan {
  readonly terms: readonly string[];
  readonly hasOffset: boolean;
  /** The η clamp every agent applies in the DP modes (it bounds each row's contribution); null in mode none. */
  readonly etaClamp: readonly [number, number] | null;
  /** Per-person sensitivity of each block: round 1 and later rounds (DP modes only). */
  readonly sensitivity: { readonly round1: Readonly<Record<string, { l1: number; l2Sq: number }>>; readonly later: Readonly<Record<string, { l1: number; l2Sq: number }>> } | null;
}

export type CompiledGlmJob = CompiledKindJob<GlmJob, GlmPlan>;

/** Rows dropped at the agent (missing or unusable values), appended to algorithms/glm's layout. */
const DROPPED_BLOCK = 'nDropped';
/** Per-agent bound of every entry: finite, and far above any real sum (the layout check guards NaN and ∞). */
const ENTRY_BOUND = 1e300;
const DEFAULT_TIMEOUT_MS = 30_000;

function compileGlm(spec: GlmJob): Omit<CompiledGlmJob, 'hash'> {
  const mode = spec.privacy.mode;
  if (mode !== 'none' && mode !== 'central-dp') throw new FedmeshError('INVALID_JOB', `privacy.mode: glm jobs run in modes none and central-dp so far; got ${mode}`, { field: 'privacy.mode' });
  if (spec.secure) throw new FedmeshError('INVALID_JOB', 'secure: glm jobs do not run under secure aggregation yet; leave "secure" out', { field: 'secure' });
  spec.covariates.forEach((c, i) => {
    if (c.type === 'numeric' && c.standardise) throw new FedmeshError('INVALID_JOB', `covariates[${i}].standardise: standardising from a first federated round is not available yet; leave it out`, { field: `covariates[${i}].standardise` });
  });
  const terms = glmTerms(spec.covariates);
  const hasOffset = spec.offset !== undefined;
  let sensitivity: GlmPlan['sensitivity'] = null;
  let etaClamp: GlmPlan['etaClamp'] = null;
  if (mode === 'central-dp') {
    const k = spec.privacy.maxRowsPerPerson ?? 1;
    const s = glmRoundSensitivity(spec.family, terms.map((t) => t.bounds), glmOutcomeBounds(spec)!, k, spec.offsetBounds ? { offsetBounds: spec.offsetBounds } : {});
    const withDropped = (r: Readonly<Record<string, { l1: number; l2Sq: number }>>) => ({ ...r, [DROPPED_BLOCK]: { l1: k, l2Sq: k * k } });
    sensitivity = { round1: withDropped(s.round1), later: withDropped(s.later) };
    etaClamp = s.etaClamp;
  }
  const privacy = { mode, ...(spec.privacy.epsilon !== undefined ? { epsilon: spec.privacy.epsilon } : {}), ...(spec.privacy.delta !== undefined ? { delta: spec.privacy.delta } : {}), ...(spec.privacy.rho !== undefined ? { rho: spec.privacy.rho } : {}) };
  return {
    kind: 'glm',
    product: spec.product,
    privacy,
    secure: 'plain',
    maxRounds: maxGlmRounds(spec.maxIterations, hasOffset),
    roundTimeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    dropout: 'fail',
    minAgents: 1,
    spec,
    plan: { terms: terms.map((t) => t.name), hasOffset, etaClamp, sensitivity },
  };
}

/** The layout of every round: algorithms/glm's blocks, then the dropped-row count. */
function glmLayout(job: CompiledGlmJob, round: number): StatLayout {
  const p = job.plan.terms.length;
  const sens = job.plan.sensitivity ? (round === 0 ? job.plan.sensitivity.round1 : job.plan.sensitivity.later) : null;
  const block = (name: string, length: number): StatBlock => ({ name, length, perAgent: { lo: -ENTRY_BOUND, hi: ENTRY_BOUND }, sensitivity: sens ? sens[name]! : 'exact-only', release: 'additive' });
  return { blocks: [...glmStatLayout(p).map((b) => block(b.name, b.length)), block(DROPPED_BLOCK, 1)] };
}

/** Replays the fit over the released rounds (pure and cheap: one solve per round). */
function replay(job: CompiledGlmJob, history: readonly RoundRecord<GlmRoundInput>[]): GlmAdvance {
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

function releaseGlm(job: CompiledGlmJob, history: readonly RoundRecord<GlmRoundInput>[]): KindRelease {
  const step = replay(job, history);
  const family = glmFamily(job.spec.family);
  const last = history[history.length - 1]!;
  const nDropped = Math.max(0, Math.round(last.released[last.released.length - 1]!));
  const notes: string[] = [];
  const dp = job.privacy.mode === 'central-dp';
  if (dp) notes.push(`central-dp: the coordinator added discrete Gaussian noise to every round's sums (standard deviation per block in privacy.noiseStd); estimates, standard errors and deviances are computed from the noisy sums.`);
  const summary = glmSummary(family, step.state, job.plan.terms);
  // Stated per coefficient: the score's noise through (XᵀWX)⁻¹ (see algorithms/glm/noisy.ts).
  const rhsStd = last.noiseStd[glmLayout(job, 1).blocks.findIndex((b) => b.name === 'rhs')] ?? 0;
  const coefficientNoiseStd = dp ? glmCoefficientNoiseStd(job.plan.terms.length, summary.covUnscaled, rhsStd) : undefined;
  const released = glmReleased(summary, { nDropped, notes, ...(coefficientNoiseStd ? { coefficientNoiseStd } : {}) });
  const rho = dp ? (job.privacy.rho ?? rhoForEpsilonDelta(job.privacy.epsilon!, job.privacy.delta!)) : 0;
  const blocks = glmLayout(job, Math.min(1, history.length - 1)).blocks.map((b) => b.name);
  return {
    columns: released.columns,
    rows: released.rows,
    summary: { ...released.summary },
    notes: released.notes,
    privacy: {
      mode: job.privacy.mode,
      ...(dp ? { epsilon: job.privacy.epsilon, delta: job.privacy.delta, rho, roundsCharged: job.maxRounds, etaClamp: job.plan.etaClamp, maxRowsPerPerson: job.spec.privacy.maxRowsPerPerson ?? 1 } : {}),
      ...(dp ? { noiseStd: Object.fromEntries(blocks.map((n, i) => [n, last.noiseStd[i]])) } : {}),
    },
  };
}

export const glmKind: KindDef<GlmJob, GlmPlan, GlmRoundInput> = {
  kind: 'glm',
  parse: parseGlmSpec,
  compile: compileGlm,
  layout: glmLayout,
  nextRound: (job, history) => {
    const step = replay(job, history);
    return step.done ? undefined : step.input;
  },
  release: (job, history) => releaseGlm(job, history),
  view: (r) => renderGlmTable(r as unknown as GlmReleased),
  viewJson: (r) => ({ ...glmJson(r as unknown as GlmReleased) }),
};
