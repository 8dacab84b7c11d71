/**
 * Issue 9 §2: numeric covariates standardised from a first federated round, as R's `glm(y ~ scale(x))`.
 *
 * Round 0 is a moments round: every agent sends n, Σx and Σx² of each standardised column over exactly the rows
 * its fit uses (after where, cohort, missing-value drops and clamping to the declared bounds). The coordinator
 * turns the sums into the public pooled mean and SD (n − 1 denominator, as R's `sd`), and every later round's
 * input carries them; agents standardise their cached design in place once and run the IRLS rounds on it.
 *
 * Why mode none only: in the DP modes the later rounds' sensitivities and secure-sum bounds would depend on the
 * standardised bounds [(lo − m)/s, (hi − m)/s], known only after round 0, while a job's plan (and its hash, which
 * agents check) is fixed at submission. compileGlm refuses standardise in the DP modes naming the field.
 *
 * Why an SD floor: the later rounds' public per-agent bounds (secure sums) and fixed-point grids are planned at
 * submission, so a standardised value must have a public bound. With the SD clamped below at
 * (hi − lo)·SD_FLOOR_FRACTION, |(x − m)/s| ≤ (hi − lo)/s ≤ 1/SD_FLOOR_FRACTION. A column whose pooled SD is below
 * the floor (nearly constant within its declared range) is scaled by the floor instead, and the result says so.
 */
import type { GlmDesign } from '../../algorithms/glm/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { StatBlock, StatLayout } from '../../common/kinds/index.js';
import type { GlmJob, GlmTerm } from './spec.js';

/** Public SD floor as a fraction of the declared range (hi − lo): 2^-16. */
export const SD_FLOOR_FRACTION = 2 ** -16;
/** Public bound of any standardised value: (hi − lo) / floor. */
export const STANDARDISED_BOUND = 1 / SD_FLOOR_FRACTION;

/** One standardised column: which covariate, which design column (term index), its declared bounds. */
export interface StandardisedColumn {
  readonly column: string;
  readonly covariate: number;
  readonly term: number;
  readonly bounds: readonly [number, number];
}

/** The public centre and scale applied to one column (released in the result's summary). */
export interface ColumnScale {
  readonly column: string;
  readonly mean: number;
  readonly sd: number;
  /** Rows the moments were taken over (summed over agents). */
  readonly n: number;
  /** True when the pooled SD was below the public floor and the floor was used instead. */
  readonly sdFloored: boolean;
}

/** The input of the moments round (round 0 when any covariate is standardised). */
export interface GlmMomentsInput {
  readonly round: 0;
  readonly moments: true;
}

/** The standardised columns of a job, in covariate order; empty when none asks for it. */
export function standardisedColumns(spec: GlmJob, terms: readonly GlmTerm[]): StandardisedColumn[] {
  const out: StandardisedColumn[] = [];
  terms.forEach((t, j) => {
    if (t.source.kind !== 'numeric') return;
    const c = spec.covariates[t.source.covariate]!;
    if (c.type === 'numeric' && c.standardise) out.push({ column: c.column, covariate: t.source.covariate, term: j, bounds: c.bounds });
  });
  return out;
}

/** The terms as the IRLS rounds see them: standardised columns renamed `scale(x)` with the public bound ±1/floor. */
export function standardisedTerms(terms: readonly GlmTerm[], cols: readonly StandardisedColumn[]): GlmTerm[] {
  const byTerm = new Set(cols.map((c) => c.term));
  return terms.map((t, j) => (byTerm.has(j) ? { ...t, name: `scale(${t.name})`, bounds: [-STANDARDISED_BOUND, STANDARDISED_BOUND] as const } : t));
}

/** Entry bound times the public row cap, and the fixed-point grid 72 bits below it (index.ts's rule). */
function momentBlock(name: string, length: number, rowAbsMax: number, rows: number, secure: boolean): StatBlock {
  const bound = rows * Math.max(rowAbsMax, 1);
  const gridExponent = Math.max(-60, Math.ceil(Math.log2(bound)) - 72);
  return { name, length, perAgent: secure ? { lo: -bound, hi: bound } : { lo: -1e300, hi: 1e300 }, sensitivity: 'exact-only', gridExponent, release: 'additive' };
}

/**
 * The moments round's layout: `momentN` (rows used), `momentSum` and `momentSumSq` (one entry per standardised
 * column). Per-agent bounds from the declared covariate bounds and the public row cap (secure sums only).
 */
export function momentsLayout(cols: readonly StandardisedColumn[], rows: number, secure: boolean): StatLayout {
  const absMax = Math.max(...cols.map((c) => Math.max(Math.abs(c.bounds[0]), Math.abs(c.bounds[1]))));
  return {
    blocks: [momentBlock('momentN', 1, 1, rows, secure), momentBlock('momentSum', cols.length, absMax, rows, secure), momentBlock('momentSumSq', cols.length, absMax * absMax, rows, secure)],
  };
}

/**
 * The public mean and SD of each column from the released moments sums (mean clamped into the declared bounds,
 * SD into [floor, ∞)).
 * @throws FedmeshError FAILED_PRECONDITION when fewer than 2 rows were summed (no SD)
 */
export function scalesFromMoments(cols: readonly StandardisedColumn[], released: readonly number[]): ColumnScale[] {
  const n = Math.round(released[0]!);
  if (!(n >= 2)) throw new FedmeshError('FAILED_PRECONDITION', `standardisation needs at least 2 rows over all agents, got ${Math.max(0, n)}`, { field: 'covariates' });
  return cols.map((c, k) => {
    const [lo, hi] = c.bounds;
    const sum = released[1 + k]!;
    const sumSq = released[1 + cols.length + k]!;
    const mean = Math.min(hi, Math.max(lo, sum / n));
    const variance = Math.max(0, (sumSq - n * mean * mean) / (n - 1));
    const floor = (hi - lo) * SD_FLOOR_FRACTION;
    const sd = Math.sqrt(variance);
    if (!(Math.max(sd, floor) > 0)) throw new FedmeshError('FAILED_PRECONDITION', `covariate ${c.column} has SD 0 over all agents and no range to floor it: it cannot be standardised`, { field: `covariates[${c.covariate}].standardise` });
    return { column: c.column, mean, sd: Math.max(sd, floor), n, sdFloored: !(sd >= floor) };
  });
}

/** One agent's moments vector (n, Σx per column, Σx² per column) over its design's raw columns. */
export function localMoments(d: GlmDesign, cols: readonly StandardisedColumn[]): Float64Array {
  const acc = momentsAccumulator(cols);
  acc.add(d);
  return acc.finish();
}

/**
 * localMoments over rows that arrive in chunks (a cursor over a site's server): each column's sums add the rows in
 * the same order as one pass, so the result is the same bit for bit.
 */
export function momentsAccumulator(cols: readonly StandardisedColumn[]): { add(d: GlmDesign): void; finish(): Float64Array } {
  const out = new Float64Array(1 + 2 * cols.length);
  return {
    add(d) {
      out[0]! += d.n;
      cols.forEach((c, k) => {
        let s = out[1 + k]!;
        let ss = out[1 + cols.length + k]!;
        for (let i = 0; i < d.n; i++) {
          const v = d.x[i * d.p + c.term]!;
          s += v;
          ss += v * v;
        }
        out[1 + k] = s;
        out[1 + cols.length + k] = ss;
      });
    },
    finish: () => out,
  };
}

/**
 * Checks a round input's public scales: one per standardised column, in order, finite mean, SD ≥ the floor.
 * @throws FedmeshError INVALID_ARGUMENT naming what is wrong
 */
export function checkScales(raw: unknown, cols: readonly StandardisedColumn[]): ColumnScale[] {
  const ok =
    Array.isArray(raw) &&
    raw.length === cols.length &&
    raw.every((s: Partial<ColumnScale> | null, k) => {
      const c = cols[k]!;
      // A pooled mean of clamped values lies within the bounds and their SD below their width; anything else is not
      // an honest round's (a mean of 1e200 would overflow the agent's sums: red team 7).
      const width = c.bounds[1] - c.bounds[0];
      return !!s && typeof s === 'object' && s.column === c.column && Number.isFinite(s.mean) && Number.isFinite(s.sd) && (s.mean as number) >= c.bounds[0] && (s.mean as number) <= c.bounds[1] && (s.sd as number) >= width * SD_FLOOR_FRACTION && (s.sd as number) <= width && (s.sd as number) > 0;
    });
  if (!ok) throw new FedmeshError('INVALID_ARGUMENT', `payload.input.scales: a standardised glm round needs ${cols.length} {column, mean, sd} in covariate order, each mean within the column's bounds and each SD between the public floor and the bounds' width`, { field: 'payload' });
  return raw as ColumnScale[];
}

/** A coefficient back on the original scale of its covariate. */
export interface OriginalScaleCoefficient {
  readonly term: string;
  readonly estimate: number;
  readonly stdError: number;
}

/**
 * The coefficients on the original scale: β = Aβ' with β_j = β'_j / s_j for a standardised column j and the
 * intercept β_0 = β'_0 − Σ_j β'_j·m_j / s_j; SEs from the full covariance, Cov(Aβ') = A·Cov(β')·Aᵀ (exact: an
 * affine reparametrisation of the same fit). `cov` is vcov() row-major p×p (dispersion × (XᵀWX)⁻¹).
 */
export function backTransform(terms: readonly string[], rawTerms: readonly string[], estimates: readonly number[], cov: readonly number[], cols: readonly StandardisedColumn[], scales: readonly ColumnScale[]): OriginalScaleCoefficient[] {
  const p = terms.length;
  const a: number[][] = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => (i === j ? 1 : 0)));
  cols.forEach((c, k) => {
    const s = scales[k]!;
    a[c.term]![c.term] = 1 / s.sd;
    a[0]![c.term] = -s.mean / s.sd;
  });
  const est = a.map((row) => row.reduce((acc, v, j) => acc + v * estimates[j]!, 0));
  return rawTerms.map((term, i) => {
    let variance = 0;
    for (let j = 0; j < p; j++) {
      if (a[i]![j] === 0) continue;
      for (let l = 0; l < p; l++) variance += a[i]![j]! * cov[j * p + l]! * a[i]![l]!;
    }
    return { term, estimate: est[i]!, stdError: Math.sqrt(Math.max(0, variance)) };
  });
}
