import * as dp from '../../algorithms/dp/index.js';
import { PRIVACY_LIMITS, inRange, rangeMessage } from './privacy-limits.js';

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

/**
 * Checks a budget against PRIVACY_LIMITS (budgetEpsilon, budgetDelta): the ledger's SetBudget, the coordinator's
 * default budget and each agent's cap per researcher all pass through here.
 * @throws RangeError naming `${field}.epsilon` or `${field}.delta`
 */
export function validateBudget(b: EpsilonDeltaBudget, field: string): void {
  if (b === null || typeof b !== 'object') throw new RangeError(`${field} must be an object {epsilon, delta}`);
  if (!inRange(b.epsilon, PRIVACY_LIMITS.budgetEpsilon)) throw new RangeError(`${field}.epsilon ${rangeMessage(PRIVACY_LIMITS.budgetEpsilon, b.epsilon)}`);
  if (!inRange(b.delta, PRIVACY_LIMITS.budgetDelta)) throw new RangeError(`${field}.delta ${rangeMessage(PRIVACY_LIMITS.budgetDelta, b.delta)}`);
}
