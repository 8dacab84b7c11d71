import { invalidJob } from '../errors.js';
import { parseCirce } from './circe-parse.js';
import { checkCohortDefinitionSize } from './definition-limits.js';
import type { CohortIR } from './ir.js';
import { parseNativeCohort } from './native-parse.js';

export { parseCirce } from './circe-parse.js';
export { parseNativeCohort } from './native-parse.js';
export type * from './ir.js';
export { CRITERION_DOMAINS } from './ir.js';
export { MAX_INCLUSION_RULES } from './circe-parse.js';
export type { NativeDomain } from './native-parse.js';
export { COHORT_LIMITS, MAX_SPEC_JSON_DEPTH, MAX_SPEC_JSON_NODES, checkCohortDefinitionSize, checkSpecShape } from './definition-limits.js';

/**
 * Parses a cohort definition: OHDSI Circe JSON (as ATLAS exports it: has `PrimaryCriteria` or `ConceptSets`) or the
 * native fedmesh spec (has `entry`). Pure: the coordinator validates with it, each agent compiles the result.
 * @throws FedmeshError INVALID_JOB naming the construct or field, or the JSON path past COHORT_LIMITS
 */
export function parseCohortDefinition(json: unknown, field = 'definition'): CohortIR {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidJob(field, 'must be a cohort definition object (Circe JSON or the native spec)');
  // Bounded before the recursive parsers (and the agents' SQL compiler) see it.
  checkCohortDefinitionSize(json, field);
  const o = json as Record<string, unknown>;
  if ('PrimaryCriteria' in o || 'ConceptSets' in o) return parseCirce(o);
  if ('entry' in o) return parseNativeCohort(o);
  throw invalidJob(field, 'is neither OHDSI Circe JSON (PrimaryCriteria, ConceptSets) nor a native cohort spec (entry)');
}
