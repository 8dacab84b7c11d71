/**
 * The Cox part of a survival job spec: `"model": "cox"` with `"covariates"` — parse and validate only.
 *
 * Covariates come from a small public set of person-level sources that the survival job's rows already carry at
 * the agent (`age`: age in whole years at the index date; `gender`: male / female / other from
 * gender_concept_id). A numeric covariate has declared bounds (values are clamped into them: the per-person
 * contribution is bounded, and the DP modes take sensitivity from these bounds, never from data). A categorical
 * covariate has public levels and a named reference level, and is dummy-coded with one term per other level, as
 * R's treatment contrasts do. Persons whose value is outside the listed levels (or whose age is unknown) are not
 * used, as R drops incomplete rows; the number dropped is reported.
 *
 * Example: `{"kind":"survival", …, "model":"cox", "covariates":[
 *   {"name":"ageGroup","source":"age","type":"categorical","bands":[18,50,65,80,130],"reference":"18-49"},
 *   {"name":"gender","source":"gender","type":"categorical","levels":["male","female"],"reference":"male"}]}`
 */
import { invalidJob, quote } from '../errors.js';
import { ageBandLabelsFor, checkAgeBandEdges } from './cell-limits.js';

export type CoxCovariate =
  | { name: string; source: 'age'; type: 'numeric'; bounds: [number, number] }
  | { name: string; source: 'age'; type: 'categorical'; bands: number[]; levels: string[]; reference: string }
  | { name: string; source: 'gender'; type: 'categorical'; levels: string[]; reference: string };

export interface CoxModelSpec {
  covariates: CoxCovariate[];
  /**
   * Newton iterations after the start; public and fixed up front (the DP modes charge for this many rounds).
   * @default 20
   */
  maxIterations: number;
}

/** Public limits of the Cox part of a spec. */
export const COX_LIMITS = Object.freeze({ maxCovariates: 10, maxTerms: 30, maxIterations: 50, maxLevels: 20 });
/** The values the `gender` source takes (gender_concept_id 8507, 8532, anything else). */
export const COX_GENDER_LEVELS: readonly string[] = Object.freeze(['male', 'female', 'other']);
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const KEYS = new Set(['name', 'source', 'type', 'bounds', 'bands', 'levels', 'reference']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function levelList(v: unknown, field: string, allowed: readonly string[]): string[] {
  if (!Array.isArray(v) || v.length < 2) throw invalidJob(field, `must list at least 2 public levels from ${allowed.join(', ')}`);
  if (v.length > COX_LIMITS.maxLevels) throw invalidJob(field, `at most ${COX_LIMITS.maxLevels} levels`);
  const out = v.map((x, i) => {
    if (typeof x !== 'string' || !allowed.includes(x)) throw invalidJob(`${field}[${i}]`, `must be one of ${allowed.join(', ')}, got ${quote(x, 40)}`);
    return x;
  });
  if (new Set(out).size !== out.length) throw invalidJob(field, 'lists a level twice');
  return out;
}

function reference(v: unknown, field: string, levels: readonly string[]): string {
  if (typeof v !== 'string' || !levels.includes(v)) throw invalidJob(field, `must be one of the levels (${levels.join(', ')}), got ${quote(v, 40)}`);
  return v;
}

function covariate(v: unknown, field: string): CoxCovariate {
  if (!isObj(v)) throw invalidJob(field, 'must be {name, source, type, …}');
  for (const k of Object.keys(v)) if (!KEYS.has(k)) throw invalidJob(`${field}.${k}`, 'is not a covariate field');
  const name = v.name;
  if (typeof name !== 'string' || !NAME.test(name)) throw invalidJob(`${field}.name`, `must be a name of letters, digits and _ (≤ 32), got ${quote(name, 40)}`);
  const { source, type } = v;
  if (source !== 'age' && source !== 'gender') throw invalidJob(`${field}.source`, `must be 'age' or 'gender', got ${quote(source, 40)}`);
  if (type !== 'numeric' && type !== 'categorical') throw invalidJob(`${field}.type`, `must be 'numeric' or 'categorical', got ${quote(type, 40)}`);
  if (source === 'gender') {
    if (type !== 'categorical') throw invalidJob(`${field}.type`, "gender is categorical");
    const levels = levelList(v.levels, `${field}.levels`, COX_GENDER_LEVELS);
    return { name, source, type, levels, reference: reference(v.reference, `${field}.reference`, levels) };
  }
  if (type === 'numeric') {
    const b = v.bounds;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number' && Number.isFinite(x))) throw invalidJob(`${field}.bounds`, 'must be [lo, hi], two finite numbers');
    const [lo, hi] = b as [number, number];
    if (!(lo < hi) || lo < 0 || hi > 200) throw invalidJob(`${field}.bounds`, 'must satisfy 0 ≤ lo < hi ≤ 200 (years)');
    return { name, source, type, bounds: [lo, hi] };
  }
  const bands = checkAgeBandEdges(v.bands, `${field}.bands`);
  // The last label of ageBandLabelsFor is 'unknown': persons outside every band are dropped, not a level.
  const levels = ageBandLabelsFor(bands).slice(0, -1);
  if (levels.length < 2) throw invalidJob(`${field}.bands`, 'must give at least 2 bands (3 edges)');
  return { name, source, type, bands, levels, reference: reference(v.reference, `${field}.reference`, levels) };
}

/** The coefficient names, in order: a numeric covariate's name, or `name=level` for each non-reference level. */
export function coxTerms(covariates: readonly CoxCovariate[]): string[] {
  return covariates.flatMap((c) => (c.type === 'numeric' ? [c.name] : c.levels.filter((l) => l !== c.reference).map((l) => `${c.name}=${l}`)));
}

/**
 * Parses the model part of a survival spec. Returns undefined for the Kaplan–Meier model (no `model`, or
 * `"km"`), which must then carry no covariates.
 * @param strata the job's already parsed strata: a stratified Cox model cannot also use gender as a covariate
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function parseCoxModel(v: Obj, strata: 'gender' | 'none'): CoxModelSpec | undefined {
  const model = v.model ?? 'km';
  if (model !== 'km' && model !== 'cox') throw invalidJob('model', `must be 'km' (Kaplan–Meier and log-rank) or 'cox', got ${quote(model, 40)}`);
  if (model === 'km') {
    if (v.covariates !== undefined) throw invalidJob('covariates', "only with \"model\": \"cox\"");
    if (v.maxIterations !== undefined) throw invalidJob('maxIterations', "only with \"model\": \"cox\"");
    return undefined;
  }
  const list = v.covariates;
  if (!Array.isArray(list) || list.length === 0) throw invalidJob('covariates', 'must be a non-empty list of {name, source, type, …}');
  if (list.length > COX_LIMITS.maxCovariates) throw invalidJob('covariates', `at most ${COX_LIMITS.maxCovariates} covariates`);
  const covariates = list.map((c, i) => covariate(c, `covariates[${i}]`));
  const names = covariates.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw invalidJob('covariates', `names a covariate twice (${dup})`);
  // One covariate per source: two views of the same value (age clamped to [0, 72], [0, 73] and [0, 74], or numeric
  // age beside age bands) combine into an indicator of one value that no single covariate's disclosure check sees
  // (red team: 2·C − A − B singled out the one 73-year-old).
  const sources = covariates.map((c) => c.source);
  const twice = sources.findIndex((src, i) => sources.indexOf(src) !== i);
  if (twice >= 0) throw invalidJob(`covariates[${twice}].source`, `${sources[twice]} is already the source of another covariate; each source (age, gender) may appear once: several views of one value combine into an indicator of a single value`);
  if (strata === 'gender' && covariates.some((c) => c.source === 'gender')) throw invalidJob('covariates', 'gender cannot be both a stratum (strata: gender) and a covariate');
  if (coxTerms(covariates).length > COX_LIMITS.maxTerms) throw invalidJob('covariates', `give at most ${COX_LIMITS.maxTerms} coefficients in total`);
  const it = v.maxIterations ?? 20;
  if (typeof it !== 'number' || !Number.isSafeInteger(it) || it < 1 || it > COX_LIMITS.maxIterations) throw invalidJob('maxIterations', `must be an integer in [1, ${COX_LIMITS.maxIterations}], got ${quote(it, 40)}`);
  return { covariates, maxIterations: it };
}
