/**
 * `{"kind": "survival", "model": "cox", …}` on the kind seam: a Cox proportional-hazards model of time from a
 * target cohort to an outcome, by Newton–Raphson over rounds on the job's public time grid, Breslow ties
 * (algorithms/survival/cox*.ts). Registered as the variant `survival-cox` of the built-in survival kind: the
 * Kaplan–Meier survival job keeps its own path.
 *
 * Rounds (the round number r is public):
 * - r = 0, flags: per bin of the job grid and per row (stratum, and stratum × level of every categorical
 *   covariate), each agent flags whether the persons leaving the risk set there are a small cell (0 < count < its
 *   minimum cell size) or a big one; no counts. From the summed flags alone the next input merges bins by the
 *   public rule of algorithms/survival/cox-bins.ts (`mergeSmallBinsByFlags`): every merged bin holds, at every
 *   agent and for every row, nobody or at least the minimum cell size. As no count is released in round 0,
 *   nothing withheld there can be recovered by differencing the Newton rounds' totals.
 * - r ≥ 1, Newton: input (merged bin ends, β); each agent returns the risk-set sums on the merged grid, laid out
 *   on the job grid (each merged bin's sums at its first original bin, zeros elsewhere), so the layout is public
 *   from the job alone. The coordinator replays the fit from the released sums (pure, so a restart resumes).
 *
 * Privacy: every mode and secure sum of the seam (privacy.ts: a public bound on |xβ|, per-bin increments so a
 * person is in one bin, sensitivity from the covariate bounds; fixed-point grids so secure sums are exact).
 */
import { FedmeshError } from '../../common/errors.js';
import { coxTerms, survivalTimes, SURVIVAL_STRATA, type SurvivalOutcomeSpec, parseJobSpec } from '../../common/job/index.js';
import type { CoxCovariate, CellJob, LinkageSpec } from '../../common/job/index.js';
import { kindPrivacyOf, type CompiledKindJob, type KindDef, type KindPrivacyMode, type KindRelease, type RoundRecord, type StatBlock, type StatLayout } from '../../common/kinds/index.js';
import { centreFactor, clampBeta, coxAgentBound, coxBlockFacts, coxColumnCentres, COX_ETA_BOUND, transformCumulative } from './privacy.js';
import { coxNewtonStep, coxStart, coxSummary, mergeSmallBinsByFlags, packedSize, type CoxFitState, type CoxStats } from '../../algorithms/survival/index.js';
import { coxView } from './view.js';
import { checkGlmRunOptions } from '../glm/run-options.js';

export const COX_KIND = 'survival-cox';

/**
 * The parsed spec in the shape the parser accepts: the coordinator sends it to the agents, which parse and compile
 * it again and must reach the same hash (parse is idempotent on its own output).
 */
export interface CoxJobSpec {
  kind: 'survival';
  /** HL7 PurposeOfUse code and project (common/job/purpose.ts): to the agents' policy, consent, the audit and the project's budget. */
  purpose?: string;
  project?: string;
  target: unknown;
  outcome: SurvivalOutcomeSpec;
  timeGrid: { binDays: number; maxDays: number };
  strata: 'gender' | 'none';
  model: 'cox';
  covariates: CoxCovariate[];
  maxIterations: number;
  privacy: { mode: KindPrivacyMode; epsilon?: number; delta?: number; rho?: number; tolerated?: number; maxSitesPerPerson?: number; linkage?: Partial<LinkageSpec> };
  secure?: 'secagg' | 'he';
  secureThreshold?: number;
  secureMaxRows?: number;
  /** Run on these agents only (each must serve OMOP data and be live at admission); the fit is exactly theirs. */
  agents?: string[];
  /** The fewest agents the fit may be made over (QUORUM_NOT_MET at admission below it), as for glm. */
  quorum?: number;
  timeoutMs?: number;
}

export interface CoxPlan {
  times: number[];
  terms: string[];
  strataLabels: string[];
  /** Round-0 rows: per stratum, the stratum row then one row per level of each categorical covariate. */
  countRows: string[];
  maxIterations: number;
  /** DP modes: per-person sensitivity of each Newton block; null in mode none. */
  sensitivity: Record<string, { l1: number; l2Sq: number }> | null;
  /** Per-block per-agent bound and grid (mode none: every block; DP: the blocks without noise). */
  blockBounds: Record<string, { bound: number; gridExponent: number }>;
  /** The public bound on |xβ| the agents evaluate at (DP modes and secure sums), or null. */
  etaBound: number | null;
  /** Centre and half-width of every term's public range (the centring of e^{xβ} and the β ball). */
  centre: number[];
  halfWidth: number[];
}

export type CoxRoundInput = { phase: 'counts' } | { phase: 'newton'; times: number[]; beta: number[] };

const BIG = 1e300;
const exact = (name: string, length: number, lo = -BIG): StatBlock => ({ name, length, perAgent: { lo, hi: BIG }, sensitivity: 'exact-only', release: 'additive' });

/** The rows of round 0, in the order the agent fills them. */
export function coxCountRows(spec: CoxJobSpec): string[] {
  const strata = SURVIVAL_STRATA[spec.strata];
  return strata.flatMap((s) => [`stratum=${s}`, ...spec.covariates.flatMap((c) => (c.type === 'categorical' ? c.levels.map((l) => `stratum=${s}:${c.name}=${l}`) : []))]);
}

/** The Newton-round layout of a plan (p coefficients, S strata, m bins of the job grid). */
export function newtonBlocks(plan: CoxPlan): StatLayout {
  const m = plan.times.length;
  const s = plan.strataLabels.length;
  const p = plan.terms.length;
  const block = (name: string, length: number, lo = -BIG): StatBlock => {
    const sens = plan.sensitivity?.[name];
    const bb = plan.blockBounds[name];
    // Tight public bounds only where |xβ| is bounded (DP, secure sums); mode none with plain sums keeps e^{xβ} free.
    const b = bb && plan.etaBound !== null ? { lo: lo === 0 ? 0 : -bb.bound, hi: bb.bound } : { lo, hi: BIG };
    return { name, length, perAgent: b, sensitivity: sens ?? 'exact-only', ...(bb && !(sens && sens.l2Sq > 0) ? { gridExponent: bb.gridExponent } : {}), release: 'additive' };
  };
  return { blocks: [block('atRisk', s * m, 0), block('events', s * m, 0), block('s0', s * m, 0), block('s1', s * m * p), block('s2', s * m * packedSize(p)), block('eventX', p)] };
}

/** The summed statistics of a Newton round, from its released vector. */
export function statsFromVector(plan: CoxPlan, values: readonly number[], beta: readonly number[]): CoxStats {
  const layout = newtonBlocks(plan);
  let at = 0;
  const parts = layout.blocks.map((b) => Float64Array.from(values.slice(at, (at += b.length))));
  if (at !== values.length) throw new FedmeshError('INTERNAL', `cox round vector has ${values.length} entries, the layout ${at}`);
  if (plan.sensitivity) {
    // DP: per-bin increments back to risk-set sums (post-processing), and noise kept out of impossible values.
    const all = new Float64Array(values.length);
    parts.reduce((o, part) => (all.set(part, o), o + part.length), 0);
    transformCumulative(all, layout.blocks, plan.strataLabels.length, plan.times.length, plan.terms.length, false);
    let o = 0;
    for (const part of parts) {
      part.set(all.subarray(o, o + part.length));
      o += part.length;
    }
    for (const i of [0, 1]) for (let k = 0; k < parts[i]!.length; k++) parts[i]![k] = Math.max(0, Math.round(parts[i]![k]!));
    const s0 = parts[2]!;
    for (let k = 0; k < s0.length; k++) s0[k] = Math.max(Math.exp(-(plan.etaBound ?? COX_ETA_BOUND)) * Math.max(1, parts[0]![k]!), s0[k]!);
  }
  // Undo the agents' centring e^{−cβ} (exact post-processing; the same operations in every mode).
  const f = 1 / centreFactor(evaluatedBeta(plan, beta), plan.centre);
  for (const i of [2, 3, 4]) for (let k = 0; k < parts[i]!.length; k++) parts[i]![k] = parts[i]![k]! * f;
  const [atRisk, events, s0, s1, s2, eventX] = parts as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  return { p: plan.terms.length, bins: plan.times.length, strata: plan.strataLabels.length, atRisk, events, s0, s1, s2, eventX };
}

/** The fit state after the Newton rounds of `history` (replayed: pure, the same after a restart). */
export function replayCox(plan: CoxPlan, history: readonly RoundRecord<CoxRoundInput>[]): CoxFitState {
  let state = coxStart(plan.terms.length);
  for (const rec of history) {
    if (rec.input.phase !== 'newton') continue;
    state = coxNewtonStep(statsFromVector(plan, rec.released, rec.input.beta), state, { maxIterations: plan.maxIterations });
    if (state.status !== 'running') break;
  }
  return state;
}

function parseCoxSpec(raw: unknown): CoxJobSpec {
  const job = parseJobSpec(raw) as CellJob;
  if (job.kind !== 'survival' || job.cox === undefined) throw new FedmeshError('INVALID_JOB', 'model: expected a survival job with "model": "cox"', { field: 'model' });
  const t = (raw as { timeoutMs?: unknown }).timeoutMs;
  const { covariates, maxIterations } = job.cox;
  const p = job.privacy;
  const privacy = { mode: p.mode as KindPrivacyMode, ...(p.epsilon !== undefined ? { epsilon: p.epsilon } : {}), ...(p.delta !== undefined ? { delta: p.delta } : {}), ...(p.rho !== undefined ? { rho: p.rho } : {}), ...(p.tolerated !== undefined ? { tolerated: p.tolerated } : {}), ...(p.maxSitesPerPerson !== undefined ? { maxSitesPerPerson: p.maxSitesPerPerson } : {}), ...(p.linkage !== undefined ? { linkage: p.linkage } : {}) };
  return {
    kind: 'survival',
    target: job.target,
    outcome: job.outcome,
    timeGrid: job.timeGrid,
    strata: job.strata,
    model: 'cox',
    covariates,
    maxIterations,
    privacy,
    ...(job.secure ? { secure: job.secure } : {}),
    ...(job.secureThreshold !== undefined ? { secureThreshold: job.secureThreshold } : {}),
    ...(job.secureMaxRows !== undefined ? { secureMaxRows: job.secureMaxRows } : {}),
    ...(typeof t === 'number' ? { timeoutMs: t } : {}),
    // Named agents and a quorum with glm's rules (exact fits need the same agents every round): no duplicates, a
    // quorum equal to the named agents, names sorted so that the job's hash does not depend on their order.
    ...runOptions(job.agents, job.quorum),
    ...(job.purpose !== undefined ? { purpose: job.purpose } : {}),
    ...(job.project !== undefined ? { project: job.project } : {}),
  };
}

function runOptions(agents: readonly string[] | undefined, quorum: number | undefined): { agents?: string[]; quorum?: number } {
  const r = checkGlmRunOptions({ ...(agents !== undefined ? { agents } : {}), ...(quorum !== undefined ? { quorum } : {}) });
  return { ...(r.agents !== undefined ? { agents: [...r.agents] } : {}), ...(r.quorum !== undefined ? { quorum: r.quorum } : {}) };
}

function coxPlan(spec: CoxJobSpec): CoxPlan {
  const dp = spec.privacy.mode !== 'none';
  const facts = coxBlockFacts(spec.covariates);
  const rows = spec.secureMaxRows;
  const blockBounds = Object.fromEntries(Object.entries(facts.rowAbsMax).map(([b, v]) => [b, coxAgentBound(v, rows)]));
  return {
    times: survivalTimes(spec.timeGrid.binDays, spec.timeGrid.maxDays),
    terms: coxTerms(spec.covariates),
    strataLabels: [...SURVIVAL_STRATA[spec.strata]],
    countRows: coxCountRows(spec),
    maxIterations: spec.maxIterations,
    sensitivity: dp ? { ...facts.sensitivity } : null,
    blockBounds,
    etaBound: dp || spec.secure ? COX_ETA_BOUND : null,
    ...coxColumnCentres(spec.covariates),
  };
}

/** The β the agents evaluate a round at: scaled into the public ball when the plan bounds |xβ|. */
export function evaluatedBeta(plan: CoxPlan, beta: readonly number[]): number[] {
  return plan.etaBound === null ? [...beta] : clampBeta(beta, plan.halfWidth, plan.etaBound);
}

export const coxKind: KindDef<CoxJobSpec, CoxPlan, CoxRoundInput> = {
  kind: COX_KIND,
  parse: parseCoxSpec,
  // Under a secure sum the risk-set sums are bounded by secureMaxRows persons (coxAgentBound): agreed in mode none.
  secureRowBound: { field: 'secureMaxRows', of: (spec) => spec.secureMaxRows, withBound: (spec, rows) => ({ ...spec, secureMaxRows: rows }) },
  compile: (spec) => ({
    kind: COX_KIND,
    // The OMOP person table: the product every agent with OMOP data serves, and whose privacy unit is the person.
    product: 'person',
    privacy: kindPrivacyOf(spec.privacy),
    secure: spec.secure ?? 'plain',
    ...(spec.secureThreshold !== undefined ? { secureThreshold: spec.secureThreshold } : {}),
    // Counts, the evaluation at β = 0, then at most maxIterations Newton iterations.
    maxRounds: spec.maxIterations + 2,
    roundTimeoutMs: spec.timeoutMs ?? 120_000,
    dropout: 'fail',
    minAgents: spec.quorum ?? 1,
    ...(spec.agents !== undefined ? { agents: spec.agents } : {}),
    spec,
    plan: coxPlan(spec),
  }),
  layout(job, round) {
    const n = job.plan.countRows.length * job.plan.times.length;
    // Flags are 0/1 integers (grid 2^0); under DP they are all zero (no cell suppression), so public.
    const flag = (name: string): StatBlock => ({ ...exact(name, n, 0), perAgent: { lo: 0, hi: 1 }, gridExponent: 0, ...(job.plan.sensitivity ? { sensitivity: { l1: 0, l2Sq: 0 } } : {}) });
    return round === 0 ? { blocks: [flag('small'), flag('big')] } : newtonBlocks(job.plan);
  },
  nextRound(job, history) {
    const first = history[0];
    if (first === undefined) return { phase: 'counts' };
    const plan = job.plan;
    const m = plan.times.length;
    const n = plan.countRows.length * m;
    const rows = plan.countRows.map((_, r) => ({ small: first.released.slice(r * m, (r + 1) * m), big: first.released.slice(n + r * m, n + (r + 1) * m) }));
    const times = mergeSmallBinsByFlags(plan.times, rows, Math.max(1, first.answered.length)).times;
    const state = replayCox(plan, history);
    if (state.status !== 'running') return undefined;
    return { phase: 'newton', times, beta: state.beta };
  },
  release(job, history, info): KindRelease {
    const state = replayCox(job.plan, history);
    const summary = coxSummary(state, job.plan.terms);
    const newton = history.filter((h) => h.input.phase === 'newton');
    const last = newton.at(-1)?.input;
    const usedTimes = last?.phase === 'newton' ? last.times : job.plan.times;
    const mergedBins = usedTimes.length;
    const notes = [...summary.notes, 'ties by Breslow\'s method on the job\'s time grid; concordance not computed (it needs row-level rank information the per-bin sums do not carry)'];
    if (mergedBins < job.plan.times.length) notes.push(`small time bins merged by the public rule: ${job.plan.times.length} bins → ${mergedBins}`);
    if (!info.converged && summary.status === 'running') notes.push('stopped at the public maximum number of rounds');
    const dp = job.privacy.mode !== 'none';
    if (job.plan.etaBound !== null) {
      const scaled = evaluatedBeta(job.plan, state.beta).some((b, j) => b !== state.beta[j]);
      notes.push(`the agents evaluated every round at β scaled into the public ball Σ|β_j|·max|x_j| ≤ ${job.plan.etaBound} (it bounds e^{xβ} for ${dp ? 'the sensitivity' : 'the secure sum'})${scaled ? '; the fit reached its edge, so the estimates are not the unconstrained maximum' : ''}`);
    }
    if (dp) notes.push(`${job.privacy.mode}: discrete Gaussian noise on every Newton round's per-bin sums (standard deviation per block in privacy.noiseStd); no bins merged and no cell suppression (the noise protects small bins).`);
    if (job.secure !== 'plain') notes.push(`secure ${job.secure}: the coordinator saw only each round's sum, never one agent's.`);
    const lastRec = history.at(-1);
    const blockNames = newtonBlocks(job.plan).blocks.map((b) => b.name);
    return {
      columns: ['term', 'coef', 'exp(coef)', 'se(coef)', 'z', 'Pr(>|z|)', 'lower .95', 'upper .95'],
      rows: summary.coefficients.map((c) => ({ term: c.term, coef: c.coef, 'exp(coef)': c.expCoef, 'se(coef)': c.se, z: c.z, 'Pr(>|z|)': c.pValue, 'lower .95': c.lower95, 'upper .95': c.upper95 })),
      summary: {
        model: 'cox',
        ties: 'breslow',
        n: summary.n,
        events: summary.events,
        iterations: summary.iterations,
        status: summary.status,
        loglik: summary.loglik,
        likelihoodRatio: summary.likelihoodRatio,
        wald: summary.wald,
        score: summary.score,
        rsquare: summary.rsquare,
        concordance: null,
        strata: job.plan.strataLabels,
        // The bin ends the fit used (public: derived from released counts by the public rule).
        bins: { grid: job.plan.times.length, used: mergedBins, times: usedTimes },
      },
      notes,
      privacy: {
        mode: job.privacy.mode,
        secure: job.secure,
        ...(dp ? { epsilon: job.privacy.epsilon, delta: job.privacy.delta, rho: job.privacy.rho, roundsCharged: job.maxRounds, etaBound: job.plan.etaBound, maxSitesPerPerson: job.privacy.maxSitesPerPerson ?? 1 } : {}),
        ...(dp && lastRec && newton.length > 0 ? { noiseStd: Object.fromEntries(blockNames.map((n, i) => [n, lastRec.noiseStd[i]])) } : {}),
      },
    };
  },
  view: coxView,
};
export type CompiledCoxJob = CompiledKindJob<CoxJobSpec, CoxPlan>;
