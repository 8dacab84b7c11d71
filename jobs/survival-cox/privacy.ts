/**
 * Privacy and secure sums for the Cox kind, from public facts only (the spec's covariate bounds and levels, a
 * public bound on the linear predictor, a public cap on persons per agent).
 *
 * - **Centred, bounded linear predictor.** Agents send the risk-set sums at e^{(x−c)β} with c the centre of the
 *   public covariate ranges (dummies ½), i.e. times e^{−cβ}; the coordinator multiplies by e^{cβ} again. The Cox
 *   fit reads only ratios within a bin and the log of s0, so this is exact post-processing, done in every mode so
 *   that plain and secure sums stay bit-identical. In the DP modes and under secure sums every agent evaluates the
 *   round at a β scaled into the public ball Σ_j h_j·|β_j| ≤ η (h_j = half the width of the covariate's range;
 *   dummies ½), so |(x−c)β| ≤ η and e^{(x−c)β} ∈ [e^{−η}, e^{η}] for everyone. The coordinator's Newton
 *   iterations stay inside the ball for the usual clinical effect sizes (η = 5: hazard ratios up to e^10 between
 *   the extreme covariate vectors); a fit that leaves it is evaluated at the scaled β, which the result notes.
 * - **One bin per person.** In the DP modes the agent sends the risk-set sums as per-bin increments (the persons
 *   leaving the risk set in each merged bin) instead of the cumulative sums; the coordinator adds them up again
 *   from the last bin (post-processing). A person is then in one bin of one stratum in every block, so the
 *   per-person sensitivity is that of one row: atRisk and events 1, s0 e^η, s1 e^η·‖m‖, s2 e^η·‖m mᵀ‖ (packed),
 *   eventX ‖m‖ (L2; L1 likewise with 1-norms). One person is one row (the cohort is per person).
 * - **No cell suppression under DP.** The round-0 small/big flags and the agent's minimum-cell check of the bins
 *   exist for mode none; in the DP modes the noise protects small bins, round 0 sends zeros (public, no budget) and
 *   the bins are not merged.
 */
import type { StatBlock } from '../../common/kinds/index.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/index.js';
import type { CoxCovariate } from '../../common/job/index.js';
import { packedSize } from '../../algorithms/survival/index.js';

/** The public bound η on |xβ| in the DP modes and under secure sums. */
export const COX_ETA_BOUND = 5;
/** Bits of fixed-point precision below a block's per-agent bound. */
const GRID_BITS = 72;

/** Blocks of the Newton round that hold cumulative (risk-set) sums over the bins of a stratum, with their width. */
export const CUMULATIVE_BLOCKS: Readonly<Record<string, 'one' | 'p' | 'q'>> = { atRisk: 'one', s0: 'one', s1: 'p', s2: 'q' };

/** Largest |x_j| of every design column (the Cox design has no intercept; dummies 1). */
export function coxColumnMax(covariates: readonly CoxCovariate[]): number[] {
  return covariates.flatMap((c) => (c.type === 'numeric' ? [Math.max(Math.abs(c.bounds[0]), Math.abs(c.bounds[1]))] : c.levels.filter((l) => l !== c.reference).map(() => 1)));
}

export interface CoxBlockFacts {
  /** Per-person sensitivity of each Newton block (DP modes). */
  readonly sensitivity: Readonly<Record<string, { l1: number; l2Sq: number }>>;
  /** Largest |entry| one person can put in each block. */
  readonly rowAbsMax: Readonly<Record<string, number>>;
}

/** Per-person bounds of the Newton blocks (see the file comment). */
export function coxBlockFacts(covariates: readonly CoxCovariate[], eta = COX_ETA_BOUND): CoxBlockFacts {
  const m = coxColumnMax(covariates);
  const e = Math.exp(eta);
  const l1 = m.reduce((a, b) => a + b, 0);
  const l2Sq = m.reduce((a, b) => a + b * b, 0);
  let l1Outer = 0;
  let l2SqOuter = 0;
  for (let j = 0; j < m.length; j++) {
    for (let k = j; k < m.length; k++) {
      l1Outer += m[j]! * m[k]!;
      l2SqOuter += (m[j]! * m[k]!) ** 2;
    }
  }
  const mMax = Math.max(0, ...m);
  return {
    sensitivity: { atRisk: { l1: 1, l2Sq: 1 }, events: { l1: 1, l2Sq: 1 }, s0: { l1: e, l2Sq: e * e }, s1: { l1: e * l1, l2Sq: e * e * l2Sq }, s2: { l1: e * l1Outer, l2Sq: e * e * l2SqOuter }, eventX: { l1, l2Sq } },
    rowAbsMax: { atRisk: 1, events: 1, s0: e, s1: e * mMax, s2: e * mMax * mMax, eventX: mMax },
  };
}

/** Per-agent bound and fixed-point grid of a block for `rows` persons per agent. */
export function coxAgentBound(rowAbsMax: number, rows = DEFAULT_SECURE_MAX_ROWS): { bound: number; gridExponent: number } {
  const bound = rows * rowAbsMax;
  return { bound, gridExponent: Math.max(-60, Math.ceil(Math.log2(Math.max(bound, 1))) - GRID_BITS) };
}

/** Centre c_j and half-width h_j of every design column's public range (dummies: ½ and ½). */
export function coxColumnCentres(covariates: readonly CoxCovariate[]): { centre: number[]; halfWidth: number[] } {
  const cols = covariates.flatMap((c) => (c.type === 'numeric' ? [[(c.bounds[0] + c.bounds[1]) / 2, (c.bounds[1] - c.bounds[0]) / 2] as const] : c.levels.filter((l) => l !== c.reference).map(() => [0.5, 0.5] as const)));
  return { centre: cols.map((x) => x[0]), halfWidth: cols.map((x) => x[1]) };
}

/** β scaled into the public ball Σ h_j|β_j| ≤ η (unchanged inside it). */
export function clampBeta(beta: readonly number[], halfWidth: readonly number[], eta = COX_ETA_BOUND): number[] {
  const norm = beta.reduce((a, b, j) => a + Math.abs(b) * halfWidth[j]!, 0);
  return norm <= eta ? [...beta] : beta.map((b) => (b * eta) / norm);
}

/** Multiplies the risk-set blocks (s0, s1, s2) of a Newton vector by `factor` in place (e^{∓cβ}). */
export function scaleRiskSums(values: Float64Array, blocks: readonly StatBlock[], factor: number): void {
  let at = 0;
  for (const b of blocks) {
    if (b.name === 's0' || b.name === 's1' || b.name === 's2') for (let i = at; i < at + b.length; i++) values[i] = values[i]! * factor;
    at += b.length;
  }
}

/** e^{−c·β}: the factor agents apply to the risk-set sums (the coordinator divides it out). */
export function centreFactor(beta: readonly number[], centre: readonly number[]): number {
  return Math.exp(-beta.reduce((a, b, j) => a + b * centre[j]!, 0));
}

/** Width of one bin's entries in a cumulative block. */
function widthOf(kind: 'one' | 'p' | 'q', p: number): number {
  return kind === 'one' ? 1 : kind === 'p' ? p : packedSize(p);
}

/**
 * Cumulative (from the last bin) ↔ per-bin increments, in place, for the cumulative blocks of a Newton vector laid
 * out as `blocks` with `strata` × `bins` cells. `toIncrements` at the agent, the inverse at the coordinator.
 */
export function transformCumulative(values: Float64Array, blocks: readonly StatBlock[], strata: number, bins: number, p: number, toIncrements: boolean): void {
  let at = 0;
  for (const b of blocks) {
    const kind = CUMULATIVE_BLOCKS[b.name];
    if (kind) {
      const w = widthOf(kind, p);
      for (let s = 0; s < strata; s++) {
        for (let j = 0; j < w; j++) {
          const idx = (k: number): number => at + (s * bins + k) * w + j;
          if (toIncrements) for (let k = 0; k < bins - 1; k++) values[idx(k)] = values[idx(k)]! - values[idx(k + 1)]!;
          else for (let k = bins - 2; k >= 0; k--) values[idx(k)] = values[idx(k)]! + values[idx(k + 1)]!;
        }
      }
    }
    at += b.length;
  }
}
