import { FedmeshError, invalidJob, quote } from '../errors.js';
import { checkSpecShape } from '../cohort/definition-limits.js';
import { parseCellJobBody } from './cohort-jobs.js';
import { parsePurpose, parseProject } from './purpose.js';
import { PRIVACY_LIMITS, inRange, rangeMessage } from './privacy-limits.js';
import { parseLinkage } from './linkage.js';
import {
  DEFAULT_JOB_DELTA,
  DEFAULT_JOB_EPSILON,
  DEFAULT_PRIVACY,
  DEFAULT_JOB_TIMEOUT_MS,
  MAX_ROWS_PER_PERSON,
  MAX_SITES_PER_PERSON,
  FILTER_OPS,
  MAX_JOB_TIMEOUT_MS,
  PRIVACY_MODES,
  SECURE_MODES,
  measureField,
  type AggregateJob,
  type CellJob,
  type Filter,
  type FilterOp,
  type JobCommon,
  type JobSpec,
  type Measure,
  type PrivacySpec,
  type Scalar,
} from './spec.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const MAX_GROUP_BY = 8;
const MAX_MEASURES = 32;
const MAX_FILTERS = 32;
const MAX_BINS = 1000;
const MAX_IN_VALUES = 1000;

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function onlyKeys(o: Obj, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw invalidJob(path ? `${path}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

export function identifier(v: unknown, field: string): string {
  if (typeof v !== 'string' || !IDENT.test(v)) {
    throw invalidJob(field, `must be an identifier (letters, digits, _; not starting with a digit), got ${quote(v)}`);
  }
  return v;
}

export function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidJob(field, `must be a finite number, got ${quote(v)}`);
  return v;
}

export function scalar(v: unknown, field: string): Scalar {
  if (typeof v === 'string') {
    if (v.length > 1000) throw invalidJob(field, 'string values are limited to 1000 characters');
    return v;
  }
  if (typeof v === 'boolean') return v;
  return finite(v, field);
}

export function parseFilter(v: unknown, field: string): Filter {
  if (!isObj(v)) throw invalidJob(field, 'must be an object {column, op, value}');
  onlyKeys(v, ['column', 'op', 'value'], field);
  const column = identifier(v.column, `${field}.column`);
  if (typeof v.op !== 'string' || !(FILTER_OPS as readonly string[]).includes(v.op.toLowerCase())) {
    throw invalidJob(`${field}.op`, `must be one of ${FILTER_OPS.join(', ')}; got ${quote(v.op)}`);
  }
  const op = v.op.toLowerCase() as FilterOp;
  if (op === 'is null' || op === 'is not null') {
    if (v.value !== undefined) throw invalidJob(`${field}.value`, `must be absent for '${op}'`);
    return { column, op };
  }
  if (op === 'in') {
    if (!Array.isArray(v.value) || v.value.length === 0) throw invalidJob(`${field}.value`, "must be a non-empty list for 'in'");
    if (v.value.length > MAX_IN_VALUES) throw invalidJob(`${field}.value`, `at most ${MAX_IN_VALUES} values for 'in'`);
    return { column, op, value: v.value.map((x, i) => scalar(x, `${field}.value[${i}]`)) };
  }
  if (op === 'between') {
    if (!Array.isArray(v.value) || v.value.length !== 2) throw invalidJob(`${field}.value`, "must be [low, high] for 'between'");
    const lo = scalar(v.value[0], `${field}.value[0]`);
    const hi = scalar(v.value[1], `${field}.value[1]`);
    if (typeof lo === 'number' && typeof hi === 'number' && lo > hi) {
      throw invalidJob(`${field}.value`, `low ${lo} is above high ${hi}`);
    }
    return { column, op, value: [lo, hi] };
  }
  if (v.value === undefined || Array.isArray(v.value)) throw invalidJob(`${field}.value`, `must be a single value for '${op}'`);
  return { column, op, value: scalar(v.value, `${field}.value`) };
}

export function parseBounds(v: unknown, field: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) throw invalidJob(field, 'must be [lower, upper] (declared bounds are required)');
  const lo = finite(v[0], `${field}[0]`);
  const hi = finite(v[1], `${field}[1]`);
  if (!(lo < hi)) throw invalidJob(field, `lower bound ${lo} must be below upper bound ${hi}`);
  return [lo, hi];
}

function parseMeasure(v: unknown, field: string): Measure {
  if (!isObj(v)) throw invalidJob(field, 'must be an object such as {"fn":"count"}');
  const fn = v.fn;
  switch (fn) {
    case 'count':
      onlyKeys(v, ['fn'], field);
      return { fn };
    case 'sum':
    case 'mean':
    case 'variance':
      onlyKeys(v, ['fn', 'column', 'bounds'], field);
      return { fn, column: identifier(v.column, `${field}.column`), bounds: parseBounds(v.bounds, `${field}.bounds`) };
    case 'histogram': {
      onlyKeys(v, ['fn', 'column', 'bins'], field);
      const column = identifier(v.column, `${field}.column`);
      if (!Array.isArray(v.bins) || v.bins.length < 2) throw invalidJob(`${field}.bins`, 'must list at least two bin edges');
      if (v.bins.length > MAX_BINS + 1) throw invalidJob(`${field}.bins`, `at most ${MAX_BINS} bins`);
      const bins = v.bins.map((b, i) => finite(b, `${field}.bins[${i}]`));
      for (let i = 1; i < bins.length; i++) {
        if (!(bins[i]! > bins[i - 1]!)) throw invalidJob(`${field}.bins`, `edges must be strictly increasing (edge ${i} is ${bins[i]} after ${bins[i - 1]})`);
      }
      return { fn, column, bins };
    }
    case 'quantile': {
      onlyKeys(v, ['fn', 'column', 'bounds', 'quantiles', 'candidates'], field);
      const column = identifier(v.column, `${field}.column`);
      const bounds = parseBounds(v.bounds, `${field}.bounds`);
      if (!Array.isArray(v.quantiles) || v.quantiles.length === 0 || v.quantiles.length > 20) throw invalidJob(`${field}.quantiles`, 'must list 1 to 20 quantiles in [0, 1]');
      const quantiles = v.quantiles.map((q, i) => {
        const x = finite(q, `${field}.quantiles[${i}]`);
        if (!(x >= 0 && x <= 1)) throw invalidJob(`${field}.quantiles[${i}]`, `must be in [0, 1], got ${x}`);
        return x;
      });
      const out: Measure = { fn, column, bounds, quantiles };
      if (v.candidates !== undefined) {
        if (!Number.isInteger(v.candidates) || (v.candidates as number) < 2 || (v.candidates as number) > 1001) throw invalidJob(`${field}.candidates`, 'must be an integer between 2 and 1001');
        out.candidates = v.candidates as number;
      }
      return out;
    }
    default:
      throw invalidJob(`${field}.fn`, `must be one of count, sum, mean, variance, histogram, quantile; got ${quote(fn)}`);
  }
}

/**
 * @param options.linkage whether the job kind supports `privacy.linkage` (every kind that reads persons' rows does;
 *   the agents apply it as a person scope, node-agent/linkage/linkage-scope.ts). @default false
 */
export function parsePrivacy(v: unknown, field = 'privacy', options: { linkage?: boolean } = {}): PrivacySpec {
  if (v === undefined) return { ...DEFAULT_PRIVACY };
  if (!isObj(v)) throw invalidJob(field, 'must be an object such as {"mode":"central-dp","epsilon":1}');
  onlyKeys(v, ['mode', 'epsilon', 'delta', 'rho', 'maxRowsPerPerson', 'maxSitesPerPerson', 'tolerated', 'linkage'], field);
  const mode = v.mode ?? 'central-dp';
  if (typeof mode !== 'string' || !(PRIVACY_MODES as readonly string[]).includes(mode)) {
    throw invalidJob(`${field}.mode`, `must be one of ${PRIVACY_MODES.join(', ')}; got ${quote(mode)}`);
  }
  const out: PrivacySpec = { mode: mode as PrivacySpec['mode'] };
  if (v.epsilon !== undefined) {
    const e = finite(v.epsilon, `${field}.epsilon`);
    if (!inRange(e, PRIVACY_LIMITS.jobEpsilon)) throw invalidJob(`${field}.epsilon`, rangeMessage(PRIVACY_LIMITS.jobEpsilon, e));
    out.epsilon = e;
  }
  if (v.delta !== undefined) {
    const d = finite(v.delta, `${field}.delta`);
    if (d !== 0 && !inRange(d, PRIVACY_LIMITS.jobDelta)) throw invalidJob(`${field}.delta`, rangeMessage(PRIVACY_LIMITS.jobDelta, d, ' or 0'));
    out.delta = d;
  }
  if (v.rho !== undefined) {
    const r = finite(v.rho, `${field}.rho`);
    if (!inRange(r, PRIVACY_LIMITS.jobRho)) throw invalidJob(`${field}.rho`, rangeMessage(PRIVACY_LIMITS.jobRho, r));
    out.rho = r;
  }
  if (v.maxRowsPerPerson !== undefined) {
    const k = v.maxRowsPerPerson;
    if (!Number.isInteger(k) || (k as number) < 1 || (k as number) > MAX_ROWS_PER_PERSON) {
      throw invalidJob(`${field}.maxRowsPerPerson`, `must be an integer between 1 and ${MAX_ROWS_PER_PERSON}, got ${quote(k)}`);
    }
    out.maxRowsPerPerson = k as number;
  }
  if (v.maxSitesPerPerson !== undefined) {
    const m = v.maxSitesPerPerson;
    if (!Number.isInteger(m) || (m as number) < 1 || (m as number) > MAX_SITES_PER_PERSON) {
      throw invalidJob(`${field}.maxSitesPerPerson`, `must be an integer between 1 and ${MAX_SITES_PER_PERSON}, got ${quote(m)}`);
    }
    out.maxSitesPerPerson = m as number;
  }
  if (v.tolerated !== undefined) {
    if (!Number.isInteger(v.tolerated) || (v.tolerated as number) < 0) throw invalidJob(`${field}.tolerated`, `must be an integer >= 0, got ${quote(v.tolerated)}`);
    if (mode !== 'distributed-dp') throw invalidJob(`${field}.tolerated`, 'applies to mode distributed-dp only');
    out.tolerated = v.tolerated as number;
  }
  if (v.linkage !== undefined) parseLinkageField(v, out, field, options.linkage === true);
  if (out.mode === 'none') {
    if (out.epsilon !== undefined || out.delta !== undefined || out.rho !== undefined) {
      throw invalidJob(field, "mode 'none' takes no epsilon, delta or rho");
    }
    // Contribution bounding is part of the DP mechanisms; in mode none it would silently do nothing.
    if (out.maxRowsPerPerson !== undefined) {
      throw invalidJob(`${field}.maxRowsPerPerson`, "(--max-rows-per-person) applies to the DP modes only; mode 'none' releases exact results over all rows");
    }
  } else if (out.rho !== undefined && (out.epsilon !== undefined || out.delta !== undefined)) {
    throw invalidJob(field, 'give either rho or epsilon (with optional delta), not both');
  } else if (out.epsilon === undefined && out.rho === undefined) {
    if (out.delta !== undefined) throw invalidJob(`${field}.epsilon`, 'is required when delta is given');
    out.epsilon = DEFAULT_JOB_EPSILON;
    out.delta = DEFAULT_JOB_DELTA;
  }
  return out;
}

/** `privacy.linkage`: DP modes of kinds that support it, and never together with a sites-per-person assumption. */
function parseLinkageField(v: Obj, out: PrivacySpec, field: string, supported: boolean): void {
  if (!supported) throw invalidJob(`${field}.linkage`, 'contribution bounding across sites by a linkage key is not offered for this job kind');
  if (out.mode === 'none') throw invalidJob(`${field}.linkage`, "applies to the DP modes only; mode 'none' releases exact results and bounds no contributions");
  // The linkage bound replaces the group-privacy assumption: stating both would leave it unclear which one holds.
  if (out.maxSitesPerPerson !== undefined && out.maxSitesPerPerson !== 1) {
    throw invalidJob(`${field}.maxSitesPerPerson`, 'must be 1 (or absent) with privacy.linkage: the linkage key bounds each person to k rows across all sites');
  }
  out.linkage = parseLinkage(v.linkage, `${field}.linkage`);
}

/**
 * Parses and validates a job spec given as JSON text or a parsed value. Structural checks only; whether the
 * product and columns exist is checked against the catalog by the coordinator and again by each agent.
 * @throws FedmeshError INVALID_JOB naming the field at fault
 */
/** Longest job spec accepted, in UTF-16 characters (the largest real Circe definitions are tens of kilobytes). */
export const MAX_SPEC_JSON_CHARS = 4 * 1024 * 1024;

export function parseJobSpec(input: unknown): JobSpec {
  let v = input;
  if (typeof input === 'string') {
    // Size before parsing: JSON.parse of tens of megabytes blocks the coordinator's event loop for every caller.
    if (input.length > MAX_SPEC_JSON_CHARS) throw new FedmeshError('RESOURCE_EXHAUSTED', `spec: ${input.length} characters, over the limit of ${MAX_SPEC_JSON_CHARS}`, { field: 'spec' });
    try {
      v = JSON.parse(input);
    } catch (e) {
      throw invalidJob('spec', `malformed JSON: ${(e as Error).message}`);
    }
  }
  if (!isObj(v)) throw invalidJob('spec', 'must be a JSON object');
  // Depth and size first: the parsers below recurse, and a 2,000-deep definition overflowed the stack (INTERNAL).
  checkSpecShape(v);
  if (v.kind === 'aggregate') return parseAggregate(v);
  const common = ['kind', 'privacy', 'secure', 'quorum', 'timeoutMs', 'agents', 'secureThreshold', 'secureMaxRows', 'he', 'purpose', 'project'];
  const specific: Record<string, string[]> = {
    cohort: ['definition', 'ageBands'],
    characterize: ['definition', 'ageBands', 'conditionConcepts', 'drugConcepts', 'windowDays'],
    survival: ['target', 'outcome', 'timeGrid', 'strata', 'model', 'covariates', 'maxIterations'],
    contingency: ['product', 'rowColumn', 'colColumn', 'rowLevels', 'colLevels', 'where'],
  };
  const own = typeof v.kind === 'string' ? specific[v.kind] : undefined;
  if (own) onlyKeys(v, [...common, ...own], '');
  const body = parseCellJobBody(v, (w) => {
    if (!Array.isArray(w)) throw invalidJob('where', 'must be a list of filters');
    // The same cap as aggregate's (red team 8, F4): 30,000 filters cost a PostgreSQL server 30 s, and 70 `in` lists
    // of 1,000 values exceed its 65,535 bind parameters.
    if (w.length > MAX_FILTERS) throw invalidJob('where', `at most ${MAX_FILTERS} filters`);
    return w.map((f, i) => parseFilter(f, `where[${i}]`));
  });
  const job: CellJob = { ...body, privacy: parsePrivacy(v.privacy, 'privacy', { linkage: true }) } as CellJob;
  if (job.privacy.maxRowsPerPerson !== undefined && job.privacy.maxRowsPerPerson !== 1) {
    throw invalidJob('privacy.maxRowsPerPerson', `${body.kind} jobs count each person once; maxRowsPerPerson must be 1`);
  }
  Object.assign(job, parseCommon(v));
  parseSecureFields(v, job);
  return job;
}

function parseAggregate(v: Obj): AggregateJob {
  onlyKeys(v, ['kind', 'product', 'where', 'groupBy', 'groupKeys', 'measures', 'privacy', 'secure', 'quorum', 'timeoutMs', 'agents', 'secureThreshold', 'secureMaxRows', 'he', 'purpose', 'project'], '');
  const product = identifier(v.product, 'product');
  const whereRaw = v.where ?? [];
  if (!Array.isArray(whereRaw)) throw invalidJob('where', 'must be a list of filters');
  if (whereRaw.length > MAX_FILTERS) throw invalidJob('where', `at most ${MAX_FILTERS} filters`);
  const where = whereRaw.map((f, i) => parseFilter(f, `where[${i}]`));
  const groupRaw = v.groupBy ?? [];
  if (!Array.isArray(groupRaw)) throw invalidJob('groupBy', 'must be a list of column names');
  if (groupRaw.length > MAX_GROUP_BY) throw invalidJob('groupBy', `at most ${MAX_GROUP_BY} columns`);
  const groupBy = groupRaw.map((g, i) => identifier(g, `groupBy[${i}]`));
  if (new Set(groupBy).size !== groupBy.length) throw invalidJob('groupBy', 'lists a column twice');
  if (!Array.isArray(v.measures) || v.measures.length === 0) throw invalidJob('measures', 'must be a non-empty list');
  if (v.measures.length > MAX_MEASURES) throw invalidJob('measures', `at most ${MAX_MEASURES} measures`);
  const measures = v.measures.map((m, i) => parseMeasure(m, `measures[${i}]`));
  const seen = new Map<string, number>();
  measures.forEach((m, i) => {
    const name = measureField(m);
    if (seen.has(name)) throw invalidJob(`measures[${i}]`, `duplicates measures[${seen.get(name)}] (${name})`);
    if (groupBy.includes(name)) throw invalidJob(`measures[${i}]`, `result field ${name} clashes with a groupBy column`);
    seen.set(name, i);
  });
  const job: AggregateJob = { kind: 'aggregate', product, where, groupBy, measures, privacy: parsePrivacy(v.privacy, 'privacy', { linkage: true }) };
  if (job.privacy.mode === 'none') {
    // Two binnings of one column (a histogram's bins and a quantile's buckets) overlap: each is suppressed on its
    // own, and their differences give small cells back within one job (red team 31, F2: 26 − 12 − 11 = 3).
    measures.forEach((m, i) => {
      if (m.fn !== 'quantile') return;
      const h = measures.findIndex((x) => x.fn === 'histogram' && x.column === m.column);
      if (h >= 0) throw invalidJob(`measures[${i}]`, `in mode none a column takes one histogram or one quantile, not both (measures[${h}] bins ${m.column} too): two binnings of one column give withheld cells back by difference`);
    });
  }
  if (v.groupKeys !== undefined) job.groupKeys = parseGroupKeys(v.groupKeys, groupBy);
  Object.assign(job, parseCommon(v));
  parseSecureFields(v, job);
  return job;
}

const MAX_HE_PUBLIC_KEY_BASE64 = 8 * 1024 * 1024;

/** Fields of secure jobs (aggregate and cohort-level); their meaning is checked against the mesh at admission. */
export function parseSecureFields(v: Obj, job: JobCommon): void {
  const needsSecure = (f: string): void => {
    if (!job.secure) throw invalidJob(f, 'applies to secure jobs only (set secure to secagg or he)');
  };
  if (v.secureThreshold !== undefined) {
    needsSecure('secureThreshold');
    if (!Number.isInteger(v.secureThreshold) || (v.secureThreshold as number) < 2) throw invalidJob('secureThreshold', `must be an integer >= 2, got ${quote(v.secureThreshold)}`);
    job.secureThreshold = v.secureThreshold as number;
  }
  if (v.secureMaxRows !== undefined) {
    needsSecure('secureMaxRows');
    if (!Number.isSafeInteger(v.secureMaxRows) || (v.secureMaxRows as number) < 1) throw invalidJob('secureMaxRows', `must be a positive integer, got ${quote(v.secureMaxRows)}`);
    job.secureMaxRows = v.secureMaxRows as number;
  }
  if (v.he !== undefined) {
    if (job.secure !== 'he') throw invalidJob('he', "applies to secure 'he' jobs only");
    if (!isObj(v.he)) throw invalidJob('he', 'must be an object {plan, publicKey}');
    onlyKeys(v.he, ['plan', 'publicKey'], 'he');
    if (!isObj(v.he.plan)) throw invalidJob('he.plan', 'must be an object (the BFV plan)');
    const pk = v.he.publicKey;
    if (typeof pk !== 'string' || pk.length === 0 || pk.length > MAX_HE_PUBLIC_KEY_BASE64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(pk)) throw invalidJob('he.publicKey', 'must be the serialised public key in base64');
    job.he = { plan: v.he.plan as unknown as NonNullable<AggregateJob['he']>['plan'], publicKey: pk };
  }
}

export function parseCommon(v: Obj): Partial<AggregateJob> {
  const out: Partial<AggregateJob> = {};
  // (also used for cohort-level jobs: only the JobCommon fields are set)
  if (v.secure !== undefined) {
    if (typeof v.secure !== 'string' || !(SECURE_MODES as readonly string[]).includes(v.secure)) {
      throw invalidJob('secure', `must be one of ${SECURE_MODES.join(', ')}; got ${quote(v.secure)}`);
    }
    out.secure = v.secure as AggregateJob['secure'];
  }
  if (v.quorum !== undefined) {
    if (!Number.isInteger(v.quorum) || (v.quorum as number) < 1) throw invalidJob('quorum', `must be an integer >= 1, got ${quote(v.quorum)}`);
    out.quorum = v.quorum as number;
  }
  if (v.timeoutMs !== undefined) {
    const t = v.timeoutMs;
    if (!Number.isInteger(t) || (t as number) < 100 || (t as number) > MAX_JOB_TIMEOUT_MS) {
      throw invalidJob('timeoutMs', `must be an integer between 100 and ${MAX_JOB_TIMEOUT_MS}, got ${quote(t)}`);
    }
    out.timeoutMs = t as number;
  } else {
    out.timeoutMs = DEFAULT_JOB_TIMEOUT_MS;
  }
  if (v.agents !== undefined) {
    if (!Array.isArray(v.agents) || v.agents.length === 0) throw invalidJob('agents', 'must be a non-empty list of agent names');
    out.agents = v.agents.map((a, i) => {
      if (typeof a !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(a)) throw invalidJob(`agents[${i}]`, `not a valid agent name: ${quote(a)}`);
      return a;
    });
  }
  if (v.purpose !== undefined) out.purpose = parsePurpose(v.purpose);
  if (v.project !== undefined) out.project = parseProject(v.project);
  return out;
}

const MAX_PUBLIC_GROUPS = 10_000;

function parseGroupKeys(v: unknown, groupBy: readonly string[]): Record<string, Scalar[]> {
  if (!isObj(v)) throw invalidJob('groupKeys', 'must be an object mapping each groupBy column to its list of public values');
  const out: Record<string, Scalar[]> = {};
  let combos = 1;
  for (const col of Object.keys(v)) {
    if (!groupBy.includes(col)) throw invalidJob(`groupKeys.${col}`, 'is not a groupBy column');
  }
  for (const col of groupBy) {
    const list = v[col];
    if (!Array.isArray(list) || list.length === 0) throw invalidJob(`groupKeys.${col}`, 'must be a non-empty list of public values');
    const values = list.map((x, i) => scalar(x, `groupKeys.${col}[${i}]`));
    if (new Set(values.map((x) => JSON.stringify(x))).size !== values.length) throw invalidJob(`groupKeys.${col}`, 'lists a value twice');
    combos *= values.length;
    if (combos > MAX_PUBLIC_GROUPS) throw invalidJob('groupKeys', `at most ${MAX_PUBLIC_GROUPS} group combinations`);
    out[col] = values;
  }
  return out;
}
