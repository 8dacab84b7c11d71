/**
 * The primitive types of a job spec that every kind shares: public scalar values and row filters. A leaf: it imports
 * nothing, so spec.ts (the union of the kinds) and the kinds' own files (cohort-jobs.ts) can both use it without an
 * import cycle.
 */
export type Scalar = string | number | boolean;

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'between', 'is null', 'is not null'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  column: string;
  op: FilterOp;
  /** A scalar for comparisons, a non-empty list for `in`, `[lo, hi]` for `between`, absent for null tests. */
  value?: Scalar | Scalar[];
}
