/**
 * Rules on the β a coordinator sends an agent in mode none, checked at the agent before and after each round's pass
 * (pure). The DP modes need none: the public η clamp bounds every row's effect at any β, and the noise covers it.
 *
 * β is public and chosen by the coordinator; the agent cannot check it is the honest IRLS iterate. A hostile β can
 * make the round's statistics one person's: for binomial and poisson the working weight W = w·μ′²/V depends on η,
 * and with β = (−57c, c) on age, for large c, only the person aged 57 has η ≈ 0 and W ≈ ¼; everyone else has
 * W ≈ 0, so XᵀWX ≈ ¼·xxᵀ is that person's covariates and the deviance reveals their outcome (red team 3). Under a
 * secure sum the public η clamp makes the others' contributions equal across two rounds, which then difference to
 * the one person whose η moved inside the clamp. The rules:
 *
 * - `glm.betaSpan` (binomial, poisson): |β_j| × (the public width of column j: its declared bounds, which the agent
 *   clamps it to; 1 for a dummy; bounds / SD for a standardised column) ≤ MAX_ETA_SPAN. An odds or rate ratio of
 *   e^30 across a covariate's whole range is beyond any fit worth reporting; a β that steep is a diverging fit
 *   (separation) or an attack. The same limit as Cox (node-agent/analytics/cox.ts). Public widths, not the data's
 *   range: a refusal on the local range would let a coordinator bisect β to the exact max − min (red team 5, N2).
 * - `glm.effectiveRows`: Kish's effective number of rows of the working weights, (Σ W)² / Σ W², is at least the
 *   minimum cell size: the statistics are not dominated by fewer rows than a released cell may hold.
 * - `glm.clampInside` (under a clamp): the rows with η strictly inside the clamp are none or at least the minimum
 *   cell size; the rows at the clamp contribute the same at any β, so only those inside differ between rounds.
 *
 * The same two weight rules apply to the null model's pass at the coordinator's `nullBeta0` (η₀ = nullBeta0 +
 * offset), which weighs rows by their offset. The deviance and log-likelihood are computed from η, not from the
 * saturating μ (algorithms/glm/family.ts): their y-dependent part is then linear in η, so they tell Σ y·η only.
 *
 * What they do not stop: a coordinator that differences two rounds whose inside sets are both large but differ by a
 * few persons (chosen through dummies of rare level combinations). Exact iterative fits under a malicious
 * coordinator cannot be fully protected; the DP modes can (README, threat model).
 */
import type { GlmFamilyName, GlmWeightSpread } from '../../algorithms/glm/index.js';
import { FedmeshError } from '../../common/errors.js';

/** Largest |β_j| × (range of column j) an agent evaluates a binomial or poisson round at. */
export const MAX_ETA_SPAN = 30;

function denied(rule: string, message: string): FedmeshError {
  return new FedmeshError('POLICY_DENIED', `disclosure rule ${rule}: ${message}`, { details: { rule } });
}

/**
 * Per design column, its public width: hi − lo of the term's bounds (the intercept's is 0), divided by the SD applied
 * for a standardised term (`sdOf`: term index → SD).
 */
export function termSpans(bounds: readonly (readonly [number, number])[], sdOf: ReadonlyMap<number, number> = new Map()): number[] {
  return bounds.map(([lo, hi], j) => (hi - lo) / (sdOf.get(j) ?? 1));
}

/**
 * @param terms the public term names, parallel to β and `ranges`
 * @throws FedmeshError POLICY_DENIED `glm.betaSpan` naming the term (never the range)
 */
export function checkBetaSpan(family: GlmFamilyName, beta: readonly number[] | null, ranges: readonly number[], terms: readonly string[]): void {
  if (beta === null || family === 'gaussian') return;
  beta.forEach((b, j) => {
    if (!(Math.abs(b) * ranges[j]! <= MAX_ETA_SPAN)) {
      throw denied('glm.betaSpan', `beta[${j}] (${terms[j] ?? j}) times the term's declared width exceeds ${MAX_ETA_SPAN} (a ratio of e^${MAX_ETA_SPAN} across it): the fit is diverging (a coefficient may be infinite, e.g. separation) or the round input singles out rows`);
    }
  });
}

/**
 * @throws FedmeshError POLICY_DENIED `glm.effectiveRows` or `glm.clampInside` (no count in the message)
 */
export function checkWeightSpread(s: GlmWeightSpread, minCellSize: number, clamped: boolean, rows: number, nullPass = false): void {
  if (rows === 0) return;
  const passes: [string, number, number, number][] = [['β', s.sumW, s.sumW2, s.inside]];
  // The null model's pass at the coordinator's nullBeta0 weighs rows by their offset: the same rules (red team 4, F2).
  if (nullPass) passes.push(['nullBeta0', s.nullSumW, s.nullSumW2, s.nullInside]);
  for (const [at, sum, sum2, inside] of passes) {
    const effective = sum2 > 0 ? (sum * sum) / sum2 : 0;
    if (!(effective >= minCellSize)) throw denied('glm.effectiveRows', `at this round's ${at} the working weights concentrate on fewer rows than the minimum cell size; the fit is diverging or the round input singles out rows`);
    if (clamped && inside > 0 && inside < minCellSize) throw denied('glm.clampInside', `at this round's ${at} fewer rows than the minimum cell size have a linear predictor inside the clamp; the fit is diverging or the round input singles out rows`);
  }
}
