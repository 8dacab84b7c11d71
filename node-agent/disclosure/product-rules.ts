/**
 * The product manifest, enforced where the data is. What an agent publishes about a product (`fedmesh.products.json`
 * over the OMOP/FHIR defaults: privacy unit, allowed job kinds and privacy modes, value bounds, semantic types) is
 * the one source of truth, checked here before any job touches the product — not merely shown in the catalog.
 */
import { FedmeshError, invalidJob, quote } from '../../common/errors.js';
import { checkGroupable } from '../../common/job/groupable.js';
import type { AggregateJob, JobSpec, PrivacyMode } from '../../common/job/spec.js';
import type { SemanticType, SensitivityLevel } from '../data/catalog/index.js';

/** A product's published rules, as `describeProducts` merged them. */
export interface ProductRules {
  /** The privacy-unit column; undefined when neither the defaults nor the manifest name one. */
  privacyUnit: string | undefined;
  /** Catalog kinds (`characterization`, not `characterize`). */
  allowedJobKinds: readonly string[];
  /** Absent: every mode the domain policy allows. */
  allowedPrivacyModes?: readonly PrivacyMode[] | undefined;
  bounds: Readonly<Record<string, readonly [number, number]>>;
  semanticTypes: Readonly<Record<string, SemanticType>>;
  sensitivity: SensitivityLevel;
}

/** The catalog's name for a job kind. */
export function catalogKind(kind: string): string {
  return kind === 'characterize' ? 'characterization' : kind;
}

/** How to declare a product's privacy unit, for error messages. */
function declareUnitHint(product: string): string {
  return `declare its privacy-unit column in the agent's fedmesh.products.json: {"products": {${JSON.stringify(product)}: {"privacyUnit": "<column>"}}}`;
}

/**
 * Checks a job against the rules of the product it reads.
 * - kind or mode not allowed by the manifest: POLICY_DENIED (PERMISSION_DENIED) naming the product and the field;
 * - no known privacy unit: FAILED_PRECONDITION for every privacy mode, because neither a per-person contribution
 *   bound (DP) nor a cell size in persons (mode none) can be enforced — except mode none on `public` reference data;
 * - a measure's bounds outside the declared bounds of its column: INVALID_JOB naming `measures[i].bounds`.
 *   Declared bounds are the domain's statement of the plausible range; wider bounds would let outliers (often the
 *   most identifying values) through unclamped;
 * - grouping on an identifier, reference, datetime or free-text column without public `groupKeys`: POLICY_DENIED
 *   (the spec is well-formed; the domain's disclosure rule forbids it — and the same job with public keys passes).
 * @throws FedmeshError as above
 */
export function enforceProductRules(product: string, rules: ProductRules, job: JobSpec): void {
  const kind = catalogKind(job.kind);
  if (!rules.allowedJobKinds.includes(kind)) {
    throw new FedmeshError('POLICY_DENIED', `kind: product ${product} is not open to ${job.kind} jobs at this agent (its manifest allows: ${rules.allowedJobKinds.join(', ') || 'none'})`, { field: 'kind' });
  }
  if (rules.allowedPrivacyModes && !rules.allowedPrivacyModes.includes(job.privacy.mode)) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: product ${product} does not allow mode ${job.privacy.mode} at this agent (its manifest allows: ${rules.allowedPrivacyModes.join(', ') || 'none'})`, { field: 'privacy.mode' });
  }
  // Public reference data (OMOP vocabularies) holds no persons: exact counts of it need no unit; DP always does.
  if (!rules.privacyUnit && (job.privacy.mode !== 'none' || rules.sensitivity !== 'public')) {
    throw new FedmeshError('FAILED_PRECONDITION', `product ${product} has no known privacy unit, so neither a per-person contribution bound nor a minimum cell size in persons can be enforced; ${declareUnitHint(product)}`, { field: 'product' });
  }
  if (job.kind === 'aggregate') checkAggregate(product, rules, job);
}

function checkAggregate(product: string, rules: ProductRules, job: AggregateJob): void {
  job.measures.forEach((m, i) => {
    if (m.fn === 'count' || m.fn === 'histogram') return;
    const declared = Object.hasOwn(rules.bounds, m.column) ? rules.bounds[m.column] : undefined;
    if (!declared) return;
    const [lo, hi] = m.bounds;
    if (lo < declared[0] || hi > declared[1]) {
      throw invalidJob(`measures[${i}].bounds`, `${quote([lo, hi])} must lie within the bounds [${declared[0]}, ${declared[1]}] declared for column ${m.column} of product ${product}`);
    }
  });
  checkGroupable(job, product, (c) => (Object.hasOwn(rules.semanticTypes, c) ? rules.semanticTypes[c] : undefined));
}
