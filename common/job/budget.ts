import * as dp from '../../algorithms/dp/index.js';

/** A budget as administrators state it: (ε, δ)-DP over everything a researcher may learn from a product. */
export interface EpsilonDeltaBudget {
  epsilon: number;
  delta: number;
}

/**
 * Whether spending `add` on top of `spent` stays within `budget`. Costs compose in zCDP (ρ adds up, and the δₐ of
 * approximate mechanisms adds up); the total is converted to ε at the budget's δ (CKS 2020), taking the better of
 * that and direct (ε, δ) composition.
 */
export function fitsBudget(spent: dp.PrivacyCost, add: dp.PrivacyCost, budget: EpsilonDeltaBudget): boolean {
  return epsilonSpent(dp.addCosts(spent, add), budget.delta) <= budget.epsilon * (1 + 1e-12);
}

/** ε spent at the budget's δ (Infinity when δ is already used up by approximate mechanisms). */
export function epsilonSpent(cost: dp.PrivacyCost, delta: number): number {
  if (cost.rho === 0 && cost.delta === 0 && (cost.epsilon === 0 || !Number.isFinite(cost.epsilon))) return 0;
  return dp.epsilonAtDelta(cost, delta);
}

export function validateBudget(b: EpsilonDeltaBudget, field: string): void {
  if (!(b.epsilon > 0) || !Number.isFinite(b.epsilon)) throw new RangeError(`${field}.epsilon must be a finite number > 0, got ${b.epsilon}`);
  if (!(b.delta > 0 && b.delta < 1)) throw new RangeError(`${field}.delta must be in (0, 1), got ${b.delta}`);
}
