/**
 * DataSHIELD-style disclosure rules for one agent's GLM design, checked before any statistic leaves it. Each
 * refusal is POLICY_DENIED (PERMISSION_DENIED on the wire) and names the rule and the public term or level; no
 * count or data value is ever in the message. Pure.
 *
 * - `glm.parameters`: p ≤ 0.33 × n (DataSHIELD's nfilter.glm): with fewer rows per parameter, XᵀWX and XᵀWz
 *   come close to determining rows.
 * - `glm.saturated`: n − p ≥ 1; a saturated model reproduces the outcome exactly from the released fit.
 * - `glm.outcomeLevels`: a binary outcome has at least the minimum cell size of persons at each level (0 and 1).
 * - `glm.levelCells`: every level of every categorical covariate (its dummy, and the reference) has at least the
 *   minimum cell size of persons.
 * - `glm.numericCells` (mode none): a numeric covariate that takes at most NUMERIC_AS_LEVELS clamped values at the
 *   agent is a factor in disguise, and each value holds 0 or at least the minimum cell size of persons. Bounds
 *   [56, 58] on integer ages make age a three-level factor whose middle level may be one person, and rounds at two β
 *   then difference to that person's row (red team 6, F2). Cox also checks the groups at the bounds of a many-valued
 *   covariate (node-agent/analytics/cox.ts); glm does not for covariates (a continuous covariate with a few values
 *   at a bound is common): a known gap, which jobs differing only in a covariate's bound can exploit (red team 7).
 * - `glm.boundCells` (mode none): the persons at each bound of a clamped outcome (gaussian, poisson) or offset number
 *   0 or at least the minimum cell size.
 */
import { FedmeshError } from '../../common/errors.js';

/** A numeric covariate with at most this many distinct clamped values at an agent is checked value by value (as Cox). */
export const NUMERIC_AS_LEVELS = 20;

/** @throws FedmeshError POLICY_DENIED `glm.numericCells` naming the covariate (no value, no count) */
export function checkNumericCells(column: string, groupPersons: readonly number[], minCellSize: number): void {
  if (groupPersons.some((n) => n > 0 && n < minCellSize)) {
    throw denied('glm.numericCells', `numeric covariate ${column} takes few values here and one of them is held by fewer persons at this agent than the minimum cell size (${minCellSize}); widen its bounds or make it categorical with coarser levels`);
  }
}

/**
 * `glm.boundCells` (mode none): the persons whose clamped outcome or offset sits at each of its bounds number 0 or at
 * least the minimum cell size (bounds that clamp one person apart make the column that person's indicator).
 * @throws FedmeshError POLICY_DENIED naming the column (no value, no count)
 */
export function checkBoundCells(column: string, atBounds: readonly number[], minCellSize: number): void {
  if (atBounds.some((n) => n > 0 && n < minCellSize)) {
    throw denied('glm.boundCells', `the bounds of ${column} clamp fewer persons at this agent than the minimum cell size (${minCellSize}) to one of them; declare bounds outside the data, or ones that many persons reach`);
  }
}

/** DataSHIELD's default nfilter.glm. */
export const GLM_MAX_PARAMETER_FRACTION = 0.33;

export interface GlmDisclosureCounts {
  /** Rows in the design. */
  readonly n: number;
  /** Parameters (intercept and dummies included). */
  readonly p: number;
  /** Binomial: persons (rows without a privacy unit) with outcome 0 and with outcome 1. */
  readonly outcomeLevels?: readonly [number, number];
  /** Persons per level of each categorical covariate: `column`, level label, count. */
  readonly levelCells: readonly { readonly column: string; readonly level: string; readonly persons: number }[];
}

function denied(rule: string, message: string): FedmeshError {
  return new FedmeshError('POLICY_DENIED', `disclosure rule ${rule}: ${message}`, { details: { rule } });
}

/**
 * @throws FedmeshError POLICY_DENIED naming the rule (and the public term or level) when a rule fails
 */
export function checkGlmDisclosure(c: GlmDisclosureCounts, minCellSize: number): void {
  if (c.p > GLM_MAX_PARAMETER_FRACTION * c.n) throw denied('glm.parameters', `the model's ${c.p} parameters exceed ${GLM_MAX_PARAMETER_FRACTION} × this agent's rows; use fewer covariates or levels, or a wider selection`);
  if (c.n - c.p < 1) throw denied('glm.saturated', 'the model is saturated at this agent (no residual degrees of freedom)');
  if (c.outcomeLevels) {
    c.outcomeLevels.forEach((count, level) => {
      if (count < minCellSize) throw denied('glm.outcomeLevels', `outcome level ${level} has fewer persons at this agent than the minimum cell size (${minCellSize})`);
    });
  }
  for (const cell of c.levelCells) {
    if (cell.persons < minCellSize) throw denied('glm.levelCells', `level ${cell.level} of covariate ${cell.column} has fewer persons at this agent than the minimum cell size (${minCellSize})`);
  }
}
