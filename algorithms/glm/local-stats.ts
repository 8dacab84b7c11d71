/**
 * One party's per-round sufficient statistics for Fisher scoring (IRLS), and their sum across parties.
 *
 * Every field is a plain sum over rows, so the statistics of disjoint row sets add exactly (up to floating-point
 * rounding) to those of their union: that is what makes the federated fit equal the pooled one.
 *
 * Round 1 starts from R's μ⁰ (`family$initialize`: binomial (w·y + ½)/(w + 1), poisson y + 0.1, gaussian y), so
 * it carries XᵀWz. Later rounds are evaluated at the public β and carry the score U = Σ w·(y − μ)·(dμ/dη)/V(μ)·x
 * instead; the coordinator forms XᵀWz = XᵀWX·β + U. The two are the same number in exact arithmetic, but the score
 * has a small, link-bounded per-row contribution (|y − μ| for canonical links), whereas z = η + (y − μ)/μ′ blows
 * up as μ → 0 or 1 — which matters for the DP sensitivity (see sensitivity.ts).
 */
import { checkDesign, type GlmDesign } from './design.js';
import { CANONICAL_LINK, type GlmFamily } from './family.js';

/** What a round is evaluated at; public (it travels from the coordinator to every agent). */
export interface GlmRoundInput {
  /** 1-based round number. */
  readonly round: number;
  /** Coefficients β to evaluate at, length p; null in round 1 (evaluate at R's starting values μ⁰). */
  readonly beta: readonly number[] | null;
  /** Intercept of the null (intercept-only) model to evaluate the null deviance at; null when not needed. */
  readonly nullBeta0: number | null;
}

export interface GlmLocalStats {
  readonly p: number;
  /** Rows used (weight > 0). */
  n: number;
  /** Σ w, Σ w·y and Σ w·offset: the null model's starting point. */
  sumW: number;
  sumWY: number;
  sumWOffset: number;
  /** Σ log w (gaussian AIC: R subtracts it). */
  sumLogW: number;
  /** XᵀWX, packed upper triangle row by row: (0,0), (0,1), …, (0,p−1), (1,1), …; length p(p+1)/2. */
  readonly info: Float64Array;
  /** Round 1: XᵀWz. Later rounds: the score U (see the file comment). Length p. */
  readonly rhs: Float64Array;
  /** Σ deviance residuals at the evaluated β (round 1: at μ⁰). */
  deviance: number;
  /** Σ w·log f(y; μ) at the evaluated β for binomial and poisson (AIC); 0 for gaussian. */
  logLik: number;
  /** The null model at `nullBeta0`: Fisher information, score and deviance (all 0 when nullBeta0 is null). */
  nullInfo: number;
  nullScore: number;
  nullDeviance: number;
}

/**
 * How the round's IRLS working weights W spread over the rows (never released; the agent's round rules read it):
 * with a β chosen to put one row at the steep part of the link and all others far out, W is a spike on that row and
 * XᵀWX and the score are that row's values (jobs/glm/round-rules.ts).
 */
export interface GlmWeightSpread {
  /** Σ W and Σ W² over the rows (Kish's effective number of rows is (Σ W)² / Σ W²). */
  sumW: number;
  sumW2: number;
  /** Rows whose η lies strictly inside the clamp (all rows when there is no clamp). */
  inside: number;
  /** The same for the null model's pass at `nullBeta0` (η₀ = nullBeta0 + offset, also the coordinator's choice); 0s without it. */
  nullSumW: number;
  nullSumW2: number;
  nullInside: number;
}

/** Options of the local step. */
export interface GlmLocalOptions {
  /**
   * Public clamp [lo, hi] of the linear predictor η (offset included) before μ, W and the score are computed.
   * Needed only for differential privacy, where it bounds each row's contribution; leave it out for exact fits.
   * @default no clamp
   */
  readonly etaClamp?: readonly [number, number];
}

export function packedLength(p: number): number {
  return (p * (p + 1)) / 2;
}

/** Index of (j, k), j ≤ k, in the packed upper triangle. */
export function packedIndex(p: number, j: number, k: number): number {
  return j * p - (j * (j - 1)) / 2 + (k - j);
}

/** Statistics of an empty party (all zero), the identity of `addLocalStats`. */
export function emptyLocalStats(p: number): GlmLocalStats {
  return {
    p,
    n: 0,
    sumW: 0,
    sumWY: 0,
    sumWOffset: 0,
    sumLogW: 0,
    info: new Float64Array(packedLength(p)),
    rhs: new Float64Array(p),
    deviance: 0,
    logLik: 0,
    nullInfo: 0,
    nullScore: 0,
    nullDeviance: 0,
  };
}

/**
 * Sum of two parties' statistics (a new object; neither input changes).
 * @throws RangeError if the parameter counts differ
 */
export function addLocalStats(a: GlmLocalStats, b: GlmLocalStats): GlmLocalStats {
  if (a.p !== b.p) throw new RangeError(`addLocalStats: parameter counts differ (${a.p} and ${b.p})`);
  const info = new Float64Array(a.info.length);
  for (let i = 0; i < info.length; i++) info[i] = a.info[i]! + b.info[i]!;
  const rhs = new Float64Array(a.p);
  for (let i = 0; i < rhs.length; i++) rhs[i] = a.rhs[i]! + b.rhs[i]!;
  return {
    p: a.p,
    n: a.n + b.n,
    sumW: a.sumW + b.sumW,
    sumWY: a.sumWY + b.sumWY,
    sumWOffset: a.sumWOffset + b.sumWOffset,
    sumLogW: a.sumLogW + b.sumLogW,
    info,
    rhs,
    deviance: a.deviance + b.deviance,
    logLik: a.logLik + b.logLik,
    nullInfo: a.nullInfo + b.nullInfo,
    nullScore: a.nullScore + b.nullScore,
    nullDeviance: a.nullDeviance + b.nullDeviance,
  };
}

function clamp(v: number, c: readonly [number, number] | undefined): number {
  if (!c) return v;
  return v < c[0] ? c[0] : v > c[1] ? c[1] : v;
}

/**
 * One party's statistics for one round. Pure and allocation-light: one pass over the rows, no per-row objects.
 * @throws RangeError if the design is malformed, `input.beta` has the wrong length, or round 1 has a β
 */
export function glmLocalStats(design: GlmDesign, family: GlmFamily, input: GlmRoundInput, options: GlmLocalOptions = {}): GlmLocalStats {
  const pass = startGlmLocalPass(design, family, input, options);
  pass.run(design.n);
  return pass.finish();
}

/**
 * A pass over a design's rows that can stop between any two rows and resume (local-stats-chunked.ts yields to the
 * event loop between chunks). Rows are visited in the same order and the four-row blocks carry across stops, so
 * any split gives the same statistics as one pass, bit for bit.
 */
export interface GlmLocalPass {
  /** The next row to visit (n when done). */
  readonly next: () => number;
  /** Visits rows next()..to−1. */
  readonly run: (to: number) => void;
  /** The statistics after every row was visited. @throws RangeError if rows remain */
  readonly finish: () => GlmLocalStats;
  /** The working weights' spread over the rows visited so far. */
  readonly spread: () => GlmWeightSpread;
}

/** Checks the inputs (as glmLocalStats) and returns a pass positioned at row 0. */
export function startGlmLocalPass(design: GlmDesign, family: GlmFamily, input: GlmRoundInput, options: GlmLocalOptions = {}): GlmLocalPass {
  checkDesign(design, family.validOutcome);
  const acc = startAccumulator(design.p, family, input, options);
  let next = 0;
  const n = design.n;
  return {
    next: () => next,
    run: (to: number) => {
      const end = Math.min(n, to);
      if (end > next) acc.visit(design, next, end);
      next = Math.max(next, end);
    },
    finish: () => {
      if (next < n) throw new RangeError(`glmLocalStats: ${n - next} rows not visited yet`);
      return acc.finish();
    },
    spread: acc.spread,
  };
}

/**
 * A pass over rows that arrive in chunks (designs of the same p, one after another: a cursor over a site's database,
 * issue 13), so that no party holds all its rows at once. Every chunk but the last must have a multiple of 4 rows:
 * then the four-row blocks are those of one pass over all the rows, and the statistics are identical bit for bit to
 * glmLocalStats over the concatenated design.
 */
export interface GlmStreamPass {
  /** Adds the chunk's rows (checked as a design). @throws RangeError for a bad chunk, or a chunk after one whose length was not a multiple of 4 */
  readonly add: (chunk: GlmDesign) => void;
  /** The statistics over every row added. */
  readonly finish: () => GlmLocalStats;
  /** The working weights' spread over the rows added so far. */
  readonly spread: () => GlmWeightSpread;
}

/** Checks the inputs (as glmLocalStats, for p columns) and returns a pass with no rows yet. */
export function startGlmStreamPass(p: number, family: GlmFamily, input: GlmRoundInput, options: GlmLocalOptions = {}): GlmStreamPass {
  const acc = startAccumulator(p, family, input, options);
  let open = true;
  return {
    add: (chunk: GlmDesign) => {
      if (chunk.p !== p) throw new RangeError(`startGlmStreamPass: a chunk has p = ${chunk.p}, expected ${p}`);
      checkDesign(chunk, family.validOutcome);
      if (chunk.n === 0) return;
      if (!open) throw new RangeError('startGlmStreamPass: only the last chunk may have a number of rows that is not a multiple of 4');
      acc.visit(chunk, 0, chunk.n);
      open = acc.aligned();
    },
    finish: acc.finish,
    spread: acc.spread,
  };
}

interface Accumulator {
  /** Visits rows from..to−1 of `design`; a new design may start only when aligned(). */
  visit(design: GlmDesign, from: number, to: number): void;
  /** Whether no rows are buffered in a partial four-row block. */
  aligned(): boolean;
  finish(): GlmLocalStats;
  spread(): GlmWeightSpread;
}

function startAccumulator(p: number, family: GlmFamily, input: GlmRoundInput, options: GlmLocalOptions): Accumulator {
  if (family.link !== CANONICAL_LINK[family.name]) throw new RangeError(`glmLocalStats: the ${family.name} family's ${family.link} link is not canonical (the statistics assume it)`);
  const beta = input.beta;
  if (beta !== null && beta.length !== p) throw new RangeError(`glmLocalStats: beta has length ${beta.length}, expected p = ${p}`);
  if ((input.round === 1) !== (beta === null)) throw new RangeError('glmLocalStats: round 1 is evaluated at the starting values (beta null), later rounds at a beta');
  const c = options.etaClamp;
  if (c && !(c[0] < c[1])) throw new RangeError('glmLocalStats: etaClamp must be [lo, hi] with lo < hi');
  const s = emptyLocalStats(p);
  const { info, rhs } = s;
  const nb0 = input.nullBeta0;
  const blockW = new Float64Array(4);
  const blockR = new Float64Array(4);
  const blockRow = new Int32Array(4);
  let buffered = 0;
  let current: GlmDesign | undefined;
  let finished = false;
  const spread: GlmWeightSpread = { sumW: 0, sumW2: 0, inside: 0, nullSumW: 0, nullSumW2: 0, nullInside: 0 };
  const visit = (design: GlmDesign, from: number, to: number): void => {
    if (finished) throw new RangeError('glmLocalStats: the pass is finished');
    if (design !== current && buffered !== 0) throw new RangeError('glmLocalStats: a new design may start only at a four-row boundary');
    current = design;
    const { x, y, weights, offset } = design;
    for (let i = from; i < to; i++) {
      const row = i * p;
      const w = weights ? weights[i]! : 1;
      const off = offset ? offset[i]! : 0;
      const yi = y[i]!;
      let eta: number;
      let mu: number;
      if (beta === null) {
        mu = family.mustart(yi, w);
        const raw = family.linkfun(mu);
        eta = clamp(raw, c);
        // Only a clamped η moves μ: linkinv(linkfun(μ)) need not give μ back to the last bit, and a secure job (which
        // clamps) must start where the plain one does.
        if (eta !== raw) mu = family.linkinv(eta);
      } else {
        eta = off;
        for (let j = 0; j < p; j++) eta += x[row + j]! * beta[j]!;
        eta = clamp(eta, c);
        mu = family.linkinv(eta);
      }
      // Every supported link is its family's canonical one (family.ts), where dμ/dη = V(μ): W = w·μ′²/V = w·μ′ and the
      // score factor w·(y − μ)·μ′/V = w·(y − μ). Written so, nothing divides by V, which underflows to 0 far out in η.
      const me = family.muEta(eta);
      const ww = w * me;
      spread.sumW += ww;
      spread.sumW2 += ww * ww;
      if (!c || (eta > c[0] && eta < c[1])) spread.inside += 1;
      // Round 1: W·z with z = (η − offset) + (y − μ)/μ′. Later: the score factor w·(y − μ)·μ′/V.
      const r = beta === null ? ww * (eta - off + (yi - mu) / me) : w * (yi - mu);
      // XᵀWX and the right-hand side are accumulated four rows at a time (each packed entry loaded and stored once
      // per block): about 3× faster than row by row at p ≈ 20, the same sums up to rounding.
      blockW[buffered] = ww;
      blockR[buffered] = r;
      blockRow[buffered] = row;
      if (++buffered === 4) {
        accumulateBlock4(p, x, blockRow, blockW, blockR, info, rhs);
        buffered = 0;
      }
      s.deviance += family.devResid(yi, eta, w);
      s.logLik += family.logLik(yi, eta, w);
      s.n += 1;
      s.sumW += w;
      s.sumWY += w * yi;
      s.sumWOffset += w * off;
      s.sumLogW += Math.log(w);
      if (nb0 !== null) {
        const eta0 = clamp(nb0 + off, c);
        const mu0 = family.linkinv(eta0);
        const w0 = w * family.muEta(eta0);
        spread.nullSumW += w0;
        spread.nullSumW2 += w0 * w0;
        if (!c || (eta0 > c[0] && eta0 < c[1])) spread.nullInside += 1;
        s.nullInfo += w0;
        s.nullScore += w * (yi - mu0);
        s.nullDeviance += family.devResid(yi, eta0, w);
      }
    }
  };
  const finish = (): GlmLocalStats => {
    if (!finished) {
      for (let b = 0; b < buffered; b++) accumulateRow(p, current!.x, blockRow[b]!, blockW[b]!, blockR[b]!, info, rhs);
      buffered = 0;
      finished = true;
    }
    return s;
  };
  return { visit, aligned: () => buffered === 0, finish, spread: () => ({ ...spread }) };
}

/** info += w·x·xᵀ (packed upper triangle) and rhs += r·x for one row starting at x[row]. */
function accumulateRow(p: number, x: Float64Array, row: number, w: number, r: number, info: Float64Array, rhs: Float64Array): void {
  let k = 0;
  for (let j = 0; j < p; j++) {
    const xj = x[row + j]!;
    const wxj = w * xj;
    for (let l = j; l < p; l++, k++) info[k] = info[k]! + wxj * x[row + l]!;
    rhs[j] = rhs[j]! + r * xj;
  }
}

/** The same for four rows at once. */
function accumulateBlock4(p: number, x: Float64Array, rows: Int32Array, w: Float64Array, r: Float64Array, info: Float64Array, rhs: Float64Array): void {
  const r0 = rows[0]!;
  const r1 = rows[1]!;
  const r2 = rows[2]!;
  const r3 = rows[3]!;
  const w0 = w[0]!;
  const w1 = w[1]!;
  const w2 = w[2]!;
  const w3 = w[3]!;
  let k = 0;
  for (let j = 0; j < p; j++) {
    const x0 = x[r0 + j]!;
    const x1 = x[r1 + j]!;
    const x2 = x[r2 + j]!;
    const x3 = x[r3 + j]!;
    const a0 = w0 * x0;
    const a1 = w1 * x1;
    const a2 = w2 * x2;
    const a3 = w3 * x3;
    for (let l = j; l < p; l++, k++) info[k] = info[k]! + (a0 * x[r0 + l]! + a1 * x[r1 + l]! + a2 * x[r2 + l]! + a3 * x[r3 + l]!);
    rhs[j] = rhs[j]! + (r[0]! * x0 + r[1]! * x1 + r[2]! * x2 + r[3]! * x3);
  }
}
