/**
 * The accepted ranges of every privacy parameter: a job's ε, δ and ρ, and the (ε, δ) budgets that administrators
 * set (coordinator ledger, agent caps). One exported table so the README, the validators and their tests cite the
 * same numbers. Values outside are refused with INVALID_ARGUMENT naming the field, before any calibration runs.
 *
 * Why these bounds:
 * - job ε ∈ [10⁻³, 10²]. Below 10⁻³ a count's noise has a scale above 1,000 persons: no useful release, and tiny ε
 *   is what drove calibration into huge numbers. Above 10² the guarantee (a likelihood ratio of e^100) is void.
 * - job ρ ∈ [5·10⁻⁷, 5·10³]: ρ = ε²/2, the zCDP image of the ε range.
 * - job δ = 0 (pure DP / ρ alone) or δ ∈ [10⁻¹², 10⁻³]: δ must stay far below 1/n for any population (δ = 10⁻³ is
 *   already the weakest sensible value); below 10⁻¹² the (ε, δ) → ρ conversion gains nothing measurable.
 * - budget ε ∈ [10⁻³, 10⁴]: a total over many jobs (10⁴ = 100 jobs at the largest job ε); larger numbers are no
 *   budget at all and overflowed the ledger's ε conversions (SetBudget ε = 10²¹ answered INTERNAL).
 * - budget δ ∈ [10⁻¹², 10⁻³]: the δ at which spent zCDP is converted to ε; it must be > 0 and as small as a job's.
 */
export interface ParameterRange {
  readonly min: number;
  readonly max: number;
}

export const PRIVACY_LIMITS = Object.freeze({
  jobEpsilon: Object.freeze({ min: 1e-3, max: 1e2 }),
  jobRho: Object.freeze({ min: 5e-7, max: 5e3 }),
  /** δ = 0 is accepted too (no δ). */
  jobDelta: Object.freeze({ min: 1e-12, max: 1e-3 }),
  budgetEpsilon: Object.freeze({ min: 1e-3, max: 1e4 }),
  budgetDelta: Object.freeze({ min: 1e-12, max: 1e-3 }),
} satisfies Record<string, ParameterRange>);

/** Whether v is a finite number inside [range.min, range.max]. */
export function inRange(v: unknown, range: ParameterRange): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= range.min && v <= range.max;
}

/** The message for a value outside its range (the value is a number already known to be finite or not). */
export function rangeMessage(range: ParameterRange, v: unknown, extra = ''): string {
  return `must be a number in [${range.min}, ${range.max}]${extra}, got ${typeof v === 'number' ? String(v) : typeof v}`;
}
