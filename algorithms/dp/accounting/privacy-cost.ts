import { epsilonFromRho } from './zcdp.js';

/**
 * What one release (or a composition of releases) costs in privacy. Meaning, for add/remove-one-person neighbours:
 *  - the mechanism is `delta`-approximately `rho`-zCDP (Bun & Steinke 2016, Def. 8.1; `delta` = 0 is plain zCDP);
 *  - if `epsilon` is finite it is also (`epsilon`, `delta`)-DP; `epsilon` = Infinity means "no direct (ε, δ)
 *    statement: convert from rho with `epsilonAtDelta`".
 * Both statements compose by addition (zCDP composition, Bun & Steinke 2016 Lemma 2.3 / 8.2; basic composition for
 * (ε, δ)-DP), which is what `addCosts` does.
 */
export interface PrivacyCost {
  rho: number;
  epsilon: number;
  delta: number;
}

function check(name: string, v: number, allowInfinity: boolean): void {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (!allowInfinity && !Number.isFinite(v))) {
    throw new RangeError(`${name} must be a ${allowInfinity ? '' : 'finite '}number >= 0, got ${String(v)}`);
  }
}

/** The zero cost (identity of `addCosts`). */
export const ZERO_COST: PrivacyCost = Object.freeze({ rho: 0, epsilon: 0, delta: 0 });

/**
 * Cost of a mechanism proven ε-DP (delta = 0) or (ε, δ)-DP. Pure ε-DP implies (ε²/2)-zCDP (Bun & Steinke 2016,
 * Prop. 1.4). For delta > 0 no zCDP statement is claimed (rho = Infinity), so such costs are tracked in (ε, δ).
 * @throws RangeError if epsilon or delta is negative, not finite, or delta ≥ 1
 */
export function costFromEpsilonDelta(epsilon: number, delta = 0): PrivacyCost {
  check('epsilon', epsilon, false);
  check('delta', delta, false);
  if (delta >= 1) throw new RangeError(`delta must be < 1, got ${delta}`);
  return { rho: delta === 0 ? (epsilon * epsilon) / 2 : Infinity, epsilon, delta };
}

/** Cost of a ρ-zCDP mechanism (no direct ε statement). @throws RangeError if rho is negative or not finite */
export function costFromRho(rho: number): PrivacyCost {
  check('rho', rho, false);
  return { rho, epsilon: rho === 0 ? 0 : Infinity, delta: 0 };
}

/** Sequential composition of any number of costs. */
export function addCosts(...costs: PrivacyCost[]): PrivacyCost {
  let rho = 0;
  let epsilon = 0;
  let delta = 0;
  for (const [i, c] of costs.entries()) {
    check(`costs[${i}].rho`, c.rho, true);
    check(`costs[${i}].epsilon`, c.epsilon, true);
    check(`costs[${i}].delta`, c.delta, false);
    rho += c.rho;
    epsilon += c.epsilon;
    delta += c.delta;
  }
  return { rho, epsilon, delta: Math.min(1, delta) };
}

/**
 * The best ε such that `cost` implies (ε, targetDelta)-DP: the smaller of the direct statement (valid when
 * cost.delta ≤ targetDelta) and the zCDP conversion. A δₐ-approximately ρ-zCDP mechanism is
 * (ε(ρ, δ') − ln(1 − δₐ), δ' + δₐ)-DP: condition on the events of probability ≥ 1 − δₐ, convert with
 * CKS 2020 Cor. 13, and pay δₐ for leaving the event plus the factor 1/(1 − δₐ) for conditioning.
 * Returns Infinity when no finite ε is implied.
 * @throws RangeError if targetDelta is not in (0, 1)
 */
export function epsilonAtDelta(cost: PrivacyCost, targetDelta: number): number {
  if (!(targetDelta > 0 && targetDelta < 1)) throw new RangeError(`targetDelta must be in (0, 1), got ${targetDelta}`);
  let best = cost.delta <= targetDelta ? cost.epsilon : Infinity;
  const rest = targetDelta - cost.delta;
  if (Number.isFinite(cost.rho) && rest > 0) {
    const viaRho = epsilonFromRho(cost.rho, rest) - Math.log1p(-cost.delta);
    if (viaRho < best) best = viaRho;
  }
  return best;
}

/**
 * Cost of a mechanism that, outside an event of probability ≤ deltaA, is ρ-zCDP and (if pureEpsilon is finite)
 * pureEpsilon-DP: δₐ-approximately ρ-zCDP, and (pureEpsilon − ln(1 − δₐ), δₐ)-DP (the factor 1/(1 − δₐ) comes from
 * conditioning on the event). Used by partition selection.
 * @throws RangeError for negative or non-finite rho, or deltaA outside [0, 1)
 */
export function approximateZcdpCost(rho: number, pureEpsilon: number, deltaA: number): PrivacyCost {
  check('rho', rho, false);
  check('pureEpsilon', pureEpsilon, true);
  if (!(deltaA >= 0 && deltaA < 1)) throw new RangeError(`deltaA must be in [0, 1), got ${deltaA}`);
  return { rho, epsilon: Number.isFinite(pureEpsilon) ? pureEpsilon - Math.log1p(-deltaA) : Infinity, delta: deltaA };
}
