import { FedmeshError } from '../errors.js';
import type { AggregateJob } from './spec.js';

/**
 * Semantic types whose values single out rows or persons (`identifier`, `reference`, `datetime`, free `text`):
 * grouping on them releases the values themselves as group keys, so they are never a data-dependent group key.
 */
export const NON_GROUPABLE_SEMANTIC_TYPES: ReadonlySet<string> = new Set(['identifier', 'reference', 'datetime', 'text']);

/**
 * Refuses grouping on a column whose semantic type singles out rows or persons, unless the job gives public
 * `groupKeys` for it (then the keys are the researcher's, not data). POLICY_DENIED (PERMISSION_DENIED), not
 * INVALID_ARGUMENT: the spec is well-formed and the same job with public keys passes; the domain's disclosure rule
 * is what forbids it. Checked by the agent on its catalog, and by the coordinator on the published one.
 * @param semanticTypeOf the product's published semantic type of a column (undefined when unknown)
 * @throws FedmeshError POLICY_DENIED naming `groupBy[i]`, the column and the rule
 */
export function checkGroupable(job: AggregateJob, product: string, semanticTypeOf: (column: string) => string | undefined): void {
  job.groupBy.forEach((g, i) => {
    const t = semanticTypeOf(g);
    if (t !== undefined && NON_GROUPABLE_SEMANTIC_TYPES.has(t) && !job.groupKeys?.[g]) {
      throw new FedmeshError('POLICY_DENIED', `groupBy[${i}]: column ${g} of product ${product} is of semantic type ${t}; its values single out rows or persons, so it can be grouped on only with public groupKeys`, { field: `groupBy[${i}]` });
    }
  });
}
