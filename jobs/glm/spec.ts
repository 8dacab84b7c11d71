/**
 * The `glm` job spec: parse and validate `{"kind":"glm", …}` into a typed, frozen spec, and derive its public
 * design (term names as R prints them, design-column bounds for the DP sensitivity). Pure.
 *
 * ```json
 * {"kind":"glm","product":"heart","family":"binomial","outcome":"label_binary",
 *  "covariates":[{"column":"age","type":"numeric","bounds":[20,90]},
 *                {"column":"sex","type":"categorical","levels":["female","male"],"reference":"female"}],
 *  "where":[{"column":"age","op":">=","value":18}],"maxIterations":25,"privacy":{"mode":"none"}}
 * ```
 * Errors are FedmeshError INVALID_JOB (INVALID_ARGUMENT on the wire) naming the field, as for every other kind.
 */
import { invalidJob, quote } from '../../common/errors.js';
import { parseCohortDefinition, checkSpecShape } from '../../common/cohort/index.js';
import type { Filter, JobCommon, Scalar } from '../../common/job/index.js';
import { identifier, isObj, onlyKeys, parseBounds, parseCommon, parseFilter, parsePrivacy, parseSecureFields, scalar } from '../../common/job/index.js';
import { checkGlmRunOptions } from './run-options.js';
import { CANONICAL_LINK, GLM_FAMILIES, GLM_LINKS, type GlmFamilyName, type GlmLinkName } from '../../algorithms/glm/index.js';

/** Most model parameters (intercept and dummies included): XᵀWX has p(p + 1)/2 entries per round. */
export const MAX_GLM_PARAMETERS = 100;
export const MAX_GLM_COVARIATES = 50;
export const MAX_GLM_LEVELS = 50;
export const MAX_GLM_FILTERS = 32;
export const MAX_GLM_ITERATIONS = 100;
export const DEFAULT_GLM_ITERATIONS = 25;

export interface NumericCovariate {
  readonly column: string;
  readonly type: 'numeric';
  /** Declared bounds; values are clamped to them at the agent (they also set the DP sensitivity). */
  readonly bounds: readonly [number, number];
  /** Centre and scale by federated mean and SD (a first round) before fitting. @default false */
  readonly standardise: boolean;
}

export interface CategoricalCovariate {
  readonly column: string;
  readonly type: 'categorical';
  /** Public levels, in the order the dummy columns take; a row with another level is dropped and counted. */
  readonly levels: readonly Scalar[];
  /** The level without a dummy (R's first factor level). */
  readonly reference: Scalar;
}

export type GlmCovariate = NumericCovariate | CategoricalCovariate;

export interface GlmJob extends JobCommon {
  readonly kind: 'glm';
  readonly product: string;
  readonly family: GlmFamilyName;
  readonly link: GlmLinkName;
  readonly outcome: string;
  /**
   * Declared outcome range: values outside are clamped. Required in the DP modes for gaussian and poisson (it
   * sets the sensitivity); binomial outcomes are 0/1 (or boolean) and take [0, 1].
   */
  readonly outcomeBounds?: readonly [number, number];
  readonly covariates: readonly GlmCovariate[];
  readonly offset?: string;
  /** Declared offset range (clamped); required with an offset in the DP modes. */
  readonly offsetBounds?: readonly [number, number];
  /** Prior weights column (values must be > 0; other rows are dropped and counted). Mode none only. */
  readonly weights?: string;
  readonly where: readonly Filter[];
  /** A cohort definition (OHDSI Circe JSON or the native spec), validated here, compiled by each agent. */
  readonly cohort?: unknown;
  readonly maxIterations: number;
}

/** One column of the design matrix, in order, as R names it. */
export interface GlmTerm {
  /** `(Intercept)`, the numeric column's name, or column + level (`sexmale`) for a dummy. */
  readonly name: string;
  /** Public bounds of the column's values (intercept [1, 1], dummies [0, 1], numeric its declared bounds). */
  readonly bounds: readonly [number, number];
  readonly source: { readonly kind: 'intercept' } | { readonly kind: 'numeric'; readonly covariate: number } | { readonly kind: 'dummy'; readonly covariate: number; readonly level: Scalar };
}

const GLM_FIELDS = ['kind', 'product', 'family', 'link', 'outcome', 'outcomeBounds', 'covariates', 'offset', 'offsetBounds', 'weights', 'where', 'cohort', 'maxIterations', 'privacy', 'secure', 'quorum', 'timeoutMs', 'agents', 'secureThreshold', 'secureMaxRows', 'he', 'purpose', 'project'];

function levelKey(v: Scalar): string {
  return `${typeof v}:${String(v)}`;
}

function parseCovariate(v: unknown, field: string): GlmCovariate {
  if (!isObj(v)) throw invalidJob(field, 'must be an object {column, type: "numeric", bounds} or {column, type: "categorical", levels, reference}');
  const column = identifier(v.column, `${field}.column`);
  if (v.type === 'numeric') {
    onlyKeys(v, ['column', 'type', 'bounds', 'standardise'], field);
    if (v.standardise !== undefined && typeof v.standardise !== 'boolean') throw invalidJob(`${field}.standardise`, `must be true or false, got ${quote(v.standardise)}`);
    return Object.freeze({ column, type: 'numeric', bounds: Object.freeze(parseBounds(v.bounds, `${field}.bounds`)), standardise: v.standardise === true });
  }
  if (v.type === 'categorical') {
    onlyKeys(v, ['column', 'type', 'levels', 'reference'], field);
    if (!Array.isArray(v.levels) || v.levels.length < 2) throw invalidJob(`${field}.levels`, 'must list at least two public levels');
    if (v.levels.length > MAX_GLM_LEVELS) throw invalidJob(`${field}.levels`, `at most ${MAX_GLM_LEVELS} levels`);
    const levels = v.levels.map((x, i) => scalar(x, `${field}.levels[${i}]`));
    if (new Set(levels.map(levelKey)).size !== levels.length) throw invalidJob(`${field}.levels`, 'lists a level twice');
    if (v.reference === undefined) throw invalidJob(`${field}.reference`, 'is required: the level without a dummy column');
    const reference = scalar(v.reference, `${field}.reference`);
    if (!levels.some((l) => levelKey(l) === levelKey(reference))) throw invalidJob(`${field}.reference`, `must be one of the levels, got ${quote(reference)}`);
    return Object.freeze({ column, type: 'categorical', levels: Object.freeze(levels), reference });
  }
  throw invalidJob(`${field}.type`, `must be "numeric" or "categorical", got ${quote(v.type)}`);
}

/**
 * The design's columns in order: `(Intercept)`, then per covariate its numeric column or one dummy per
 * non-reference level (in the listed order), named as R's treatment contrasts name them.
 */
export function glmTerms(covariates: readonly GlmCovariate[]): GlmTerm[] {
  const terms: GlmTerm[] = [{ name: '(Intercept)', bounds: [1, 1], source: { kind: 'intercept' } }];
  covariates.forEach((c, i) => {
    if (c.type === 'numeric') terms.push({ name: c.column, bounds: c.bounds, source: { kind: 'numeric', covariate: i } });
    else for (const level of c.levels) if (levelKey(level) !== levelKey(c.reference)) terms.push({ name: `${c.column}${String(level)}`, bounds: [0, 1], source: { kind: 'dummy', covariate: i, level } });
  });
  return terms;
}

/**
 * Parses and validates a glm job spec (a parsed JSON value).
 * @throws FedmeshError INVALID_JOB naming the field at fault
 */
export function parseGlmSpec(raw: unknown): GlmJob {
  if (!isObj(raw)) throw invalidJob('spec', 'must be a JSON object');
  checkSpecShape(raw);
  if (raw.kind !== 'glm') throw invalidJob('kind', `must be "glm", got ${quote(raw.kind)}`);
  onlyKeys(raw, GLM_FIELDS, '');
  const product = identifier(raw.product, 'product');
  if (typeof raw.family !== 'string' || !(GLM_FAMILIES as readonly string[]).includes(raw.family)) throw invalidJob('family', `must be one of ${GLM_FAMILIES.join(', ')}; got ${quote(raw.family)}`);
  const family = raw.family as GlmFamilyName;
  let link = CANONICAL_LINK[family];
  if (raw.link !== undefined) {
    if (typeof raw.link !== 'string' || !(GLM_LINKS as readonly string[]).includes(raw.link)) throw invalidJob('link', `must be one of ${GLM_LINKS.join(', ')}; got ${quote(raw.link)}`);
    if (raw.link !== link) throw invalidJob('link', `family ${family} supports link ${link} only (its canonical link), got ${quote(raw.link)}`);
    link = raw.link as GlmLinkName;
  }
  const outcome = identifier(raw.outcome, 'outcome');
  let outcomeBounds: [number, number] | undefined;
  if (raw.outcomeBounds !== undefined) {
    outcomeBounds = parseBounds(raw.outcomeBounds, 'outcomeBounds');
    if (family === 'binomial' && (outcomeBounds[0] < 0 || outcomeBounds[1] > 1)) throw invalidJob('outcomeBounds', 'a binomial outcome is 0 or 1; bounds must lie in [0, 1]');
    if (family === 'poisson' && outcomeBounds[0] < 0) throw invalidJob('outcomeBounds', 'a poisson outcome is a count >= 0');
  }
  if (!Array.isArray(raw.covariates)) throw invalidJob('covariates', 'must be a list (it may be empty: an intercept-only model)');
  if (raw.covariates.length > MAX_GLM_COVARIATES) throw invalidJob('covariates', `at most ${MAX_GLM_COVARIATES} covariates`);
  const covariates = raw.covariates.map((c, i) => parseCovariate(c, `covariates[${i}]`));
  const seen = new Map<string, number>();
  covariates.forEach((c, i) => {
    if (c.column === outcome) throw invalidJob(`covariates[${i}].column`, 'is the outcome column');
    if (seen.has(c.column)) throw invalidJob(`covariates[${i}].column`, `duplicates covariates[${seen.get(c.column)}]`);
    seen.set(c.column, i);
  });
  const terms = glmTerms(covariates);
  if (terms.length > MAX_GLM_PARAMETERS) throw invalidJob('covariates', `the model has ${terms.length} parameters (dummies included); at most ${MAX_GLM_PARAMETERS}`);
  const names = new Map<string, string>();
  for (const t of terms) {
    if (names.has(t.name)) throw invalidJob('covariates', `two design columns would both be named ${quote(t.name)}; rename a level or column`);
    names.set(t.name, t.name);
  }
  const out: { -readonly [K in keyof GlmJob]: GlmJob[K] } = { kind: 'glm', product, family, link, outcome, covariates: Object.freeze(covariates), where: [], maxIterations: DEFAULT_GLM_ITERATIONS, privacy: parsePrivacy(raw.privacy, 'privacy', { linkage: true }) };
  if (outcomeBounds) out.outcomeBounds = Object.freeze(outcomeBounds);
  if (raw.offset !== undefined) {
    out.offset = identifier(raw.offset, 'offset');
    if (out.offset === outcome || seen.has(out.offset)) throw invalidJob('offset', 'must be a column that is neither the outcome nor a covariate');
  }
  if (raw.offsetBounds !== undefined) {
    if (out.offset === undefined) throw invalidJob('offsetBounds', 'applies only with an offset column');
    out.offsetBounds = Object.freeze(parseBounds(raw.offsetBounds, 'offsetBounds'));
  }
  if (raw.weights !== undefined) {
    out.weights = identifier(raw.weights, 'weights');
    if (out.weights === outcome || seen.has(out.weights) || out.weights === out.offset) throw invalidJob('weights', 'must be a column that is not the outcome, a covariate or the offset');
  }
  if (raw.where !== undefined) {
    if (!Array.isArray(raw.where)) throw invalidJob('where', 'must be a list of filters');
    if (raw.where.length > MAX_GLM_FILTERS) throw invalidJob('where', `at most ${MAX_GLM_FILTERS} filters`);
    out.where = Object.freeze(raw.where.map((f, i) => parseFilter(f, `where[${i}]`)));
  }
  if (raw.cohort !== undefined) {
    parseCohortDefinition(raw.cohort, 'cohort');
    out.cohort = raw.cohort;
  }
  if (raw.maxIterations !== undefined) {
    const m = raw.maxIterations;
    if (!Number.isInteger(m) || (m as number) < 1 || (m as number) > MAX_GLM_ITERATIONS) throw invalidJob('maxIterations', `must be an integer between 1 and ${MAX_GLM_ITERATIONS}, got ${quote(m)}`);
    out.maxIterations = m as number;
  }
  Object.assign(out, parseCommon(raw));
  // quorum and agents under exact Fisher scoring: a fixed set of agents (run-options.ts).
  const run = checkGlmRunOptions(out);
  delete out.quorum;
  delete out.agents;
  Object.assign(out, run);
  parseSecureFields(raw, out);
  checkDpRequirements(out);
  return Object.freeze(out);
}

/** What the DP modes need to state a sensitivity: declared outcome and offset ranges, and no data-given weights. */
function checkDpRequirements(job: GlmJob): void {
  if (job.privacy.mode === 'none' && !job.secure) return;
  // Secure sums need the same public ranges: they size the fixed-point ring from them.
  const what = job.privacy.mode === 'none' ? `with secure ${job.secure}` : `in privacy mode ${job.privacy.mode}`;
  if (job.family !== 'binomial' && job.outcomeBounds === undefined) throw invalidJob('outcomeBounds', `is required for a ${job.family} model ${what}: the sensitivity and the secure sum's bounds come from the declared outcome range`);
  if (job.offset !== undefined && job.offsetBounds === undefined) throw invalidJob('offsetBounds', `is required with an offset ${what}`);
  if (job.weights !== undefined) throw invalidJob('weights', `prior weights are supported in privacy mode none with plain sums only (a weight would scale one person's contribution past the stated bounds)`);
}

/** The public outcome range a fit and its sensitivity use (binomial: [0, 1]). */
export function glmOutcomeBounds(job: GlmJob): readonly [number, number] | undefined {
  return job.family === 'binomial' ? [0, 1] : job.outcomeBounds;
}

