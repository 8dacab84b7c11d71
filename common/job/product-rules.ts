/**
 * The product manifest's rules, one pure check shared by both sides. What an agent publishes about a product
 * (`fedmesh.products.json` over the OMOP/FHIR defaults: privacy unit, allowed job kinds and privacy modes, value
 * bounds, semantic types) is the one source of truth: the agent enforces it before any job touches the product,
 * and the coordinator applies the same check to the published copy at admission, so a refusal that depends only on
 * public information happens before anything is charged.
 */
import { FedmeshError, invalidJob, quote } from '../errors.js';
import { checkGroupable } from './groupable.js';
import { namedProductOf, PRIVACY_MODES, type AggregateJob, type JobSpec, type PrivacyMode } from './spec.js';

/** A product's published rules, as `describeProducts` merged them. */
export interface ProductRules {
  /** The privacy-unit column; undefined when neither the defaults nor the manifest name one. */
  privacyUnit: string | undefined;
  /** Catalog kinds (`characterization`, not `characterize`). Absent (a published copy without it): not checked. */
  allowedJobKinds?: readonly string[] | undefined;
  /** Absent: every mode the domain policy allows. */
  allowedPrivacyModes?: readonly PrivacyMode[] | undefined;
  bounds: Readonly<Record<string, readonly [number, number]>>;
  semanticTypes: Readonly<Record<string, string>>;
  /** `public`, `internal`, `sensitive`, `restricted` (the catalog's levels). */
  sensitivity: string;
}

/**
 * The catalog's name for a job kind. The Cox model is a survival analysis of the same product, so a manifest open
 * to `survival` is open to it; the agent's domain policy (`allowKinds`) must still list `survival-cox` itself.
 */
export function catalogKind(kind: string): string {
  if (kind === 'survival-cox') return 'survival';
  // Federated training is published in product manifests as `fl`.
  if (kind === 'train') return 'fl';
  return kind === 'characterize' ? 'characterization' : kind;
}

/** How to declare a product's privacy unit, for error messages. */
/** How a domain declares a product's privacy unit, for a refusal that names the fix. */
export function declareUnitHint(product: string): string {
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
  if (rules.allowedJobKinds && !rules.allowedJobKinds.includes(kind)) {
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

/** The product whose manifest gates a job: its own product, or `person` for the cohort-level kinds. */
export function manifestProductOf(job: JobSpec): string {
  return namedProductOf(job) ?? 'person';
}

/**
 * {@link enforceProductRules} on the product that gates the job ({@link manifestProductOf}); cohort-level kinds
 * (cohort, characterize, survival) count distinct OMOP `person_id`s, so `person` must declare that unit.
 * @throws FedmeshError POLICY_DENIED, FAILED_PRECONDITION, INVALID_JOB naming the product and the field
 */
export function enforceJobManifest(rules: ProductRules, job: JobSpec): void {
  const name = manifestProductOf(job);
  enforceProductRules(name, rules, job);
  if (name === 'person' && namedProductOf(job) === undefined && rules.privacyUnit !== 'person_id') {
    throw new FedmeshError('FAILED_PRECONDITION', `${job.kind} jobs count distinct OMOP person_id, but product person declares privacy unit ${rules.privacyUnit ?? '(none)'}`, { field: 'kind' });
  }
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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_PUBLISHED_ENTRIES = 10_000;

function stringList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_PUBLISHED_ENTRIES || !v.every((x) => typeof x === 'string')) return undefined;
  return v as string[];
}

/**
 * The rules of a product as its agent published them in the catalogue (`ProductDescriptor.metadata`), read
 * defensively: the registration is untrusted, and a field that is absent or malformed is left unchecked here
 * (the agent still enforces its own copy), never guessed stricter or looser.
 */
export function productRulesFromMetadata(privacyUnit: string, metadata: Readonly<Record<string, unknown>>): ProductRules {
  const modes = stringList(metadata.allowedPrivacyModes);
  const bounds: Record<string, readonly [number, number]> = {};
  if (isObj(metadata.bounds)) {
    for (const [c, b] of Object.entries(metadata.bounds).slice(0, MAX_PUBLISHED_ENTRIES)) {
      if (Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && Number.isFinite(x))) bounds[c] = [b[0] as number, b[1] as number];
    }
  }
  const semanticTypes: Record<string, string> = {};
  if (isObj(metadata.semanticTypes)) {
    for (const [c, t] of Object.entries(metadata.semanticTypes).slice(0, MAX_PUBLISHED_ENTRIES)) if (typeof t === 'string') semanticTypes[c] = t;
  }
  return {
    privacyUnit: privacyUnit || undefined,
    allowedJobKinds: stringList(metadata.allowedJobKinds),
    allowedPrivacyModes: modes?.filter((m): m is PrivacyMode => (PRIVACY_MODES as readonly string[]).includes(m)),
    bounds,
    semanticTypes,
    sensitivity: typeof metadata.sensitivity === 'string' ? metadata.sensitivity : 'sensitive',
  };
}
