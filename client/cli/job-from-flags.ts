import type { Scalar } from '../../common/job/index.js';

/** Options of `fedmesh query` that build a job without a JSON file. */
export interface QueryFlags {
  product?: string;
  count?: boolean;
  sum?: string[];
  mean?: string[];
  variance?: string[];
  histogram?: string[];
  quantile?: string[];
  groupBy?: string;
  groupKeys?: string[];
  maxRowsPerPerson?: string;
  where?: string[];
  privacy?: string;
  epsilon?: string;
  delta?: string;
  rho?: string;
  secure?: string;
  secureThreshold?: string;
  secureMaxRows?: string;
  tolerated?: string;
  quorum?: string;
  timeoutMs?: string;
  agents?: string;
}

function parseValue(raw: string): Scalar {
  const t = raw.trim();
  if (/^'.*'$|^".*"$/.test(t)) return t.slice(1, -1);
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return t;
}

/**
 * Parses one `--where` expression: `col>=1950`, `col = 'F'`, `col != 3`, `col in (1, 2)`,
 * `col between 1 and 5`, `col is null`, `col is not null`.
 * @throws RangeError naming the expression
 */
export function parseWhere(expr: string): { column: string; op: string; value?: Scalar | Scalar[] } {
  const e = expr.trim();
  let m = /^([A-Za-z_]\w*)\s+is\s+(not\s+)?null$/i.exec(e);
  if (m) return { column: m[1]!, op: m[2] ? 'is not null' : 'is null' };
  m = /^([A-Za-z_]\w*)\s+in\s*\((.*)\)$/i.exec(e);
  if (m) return { column: m[1]!, op: 'in', value: m[2]!.split(',').map(parseValue) };
  m = /^([A-Za-z_]\w*)\s+between\s+(.+?)\s+and\s+(.+)$/i.exec(e);
  if (m) return { column: m[1]!, op: 'between', value: [parseValue(m[2]!), parseValue(m[3]!)] };
  m = /^([A-Za-z_]\w*)\s*(>=|<=|!=|<>|=|<|>)\s*(.+)$/.exec(e);
  // `x=>5` and `x=<5` would otherwise read as x = '>5': an operator character left in the value is an error.
  if (m && /^[=<>!]/.test(m[3]!)) {
    const typed = `${m[2]}${m[3]![0]}`;
    const meant = ({ '=>': '>=', '=<': '<=', '==': '=', '=!': '!=' } as Record<string, string>)[typed];
    throw new RangeError(`--where: ${JSON.stringify(expr)}: ${JSON.stringify(typed)} is not an operator${meant ? ` (did you mean ${JSON.stringify(meant)}?)` : ''}; operators: = != <> < <= > >= in between is null`);
  }
  if (m) return { column: m[1]!, op: m[2] === '<>' ? '!=' : m[2]!, value: parseValue(m[3]!) };
  throw new RangeError(`--where: cannot parse ${JSON.stringify(expr)} (try 'year_of_birth>=1950', "gender in (8507, 8532)", 'x between 1 and 5', 'x is null')`);
}

function bounded(fn: string, spec: string): Record<string, unknown> {
  const parts = spec.split(':');
  if (parts.length !== 3) throw new RangeError(`--${fn}: expected COLUMN:LOWER:UPPER, got ${JSON.stringify(spec)}`);
  return { fn, column: parts[0], bounds: [num(`${fn} ${spec}: LOWER`, parts[1]), num(`${fn} ${spec}: UPPER`, parts[2])] };
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name}: not a number: ${JSON.stringify(v)}`);
  return n;
}

/**
 * Which flag built which field of a flag-built job (`measures[1]` → `--mean year_of_birth:2030:1900`), so that an
 * error the coordinator or an agent reports about a field can name the flag the researcher typed.
 */
export type FlagOrigins = Record<string, string>;

/** The flag behind `field` (the longest recorded prefix of it), or undefined. */
export function flagFor(origins: FlagOrigins, field: string | undefined): string | undefined {
  if (!field) return undefined;
  let best: string | undefined;
  for (const k of Object.keys(origins)) {
    if ((field === k || field.startsWith(`${k}.`) || field.startsWith(`${k}[`)) && (best === undefined || k.length > best.length)) best = k;
  }
  return best === undefined ? undefined : origins[best];
}

/** Builds a job spec object from CLI flags; the coordinator validates it like any other. */
export function jobFromFlags(f: QueryFlags): Record<string, unknown> {
  return jobFromFlagsWithOrigins(f).job;
}

/** {@link jobFromFlags}, and which flag built which field. */
export function jobFromFlagsWithOrigins(f: QueryFlags): { job: Record<string, unknown>; origins: FlagOrigins } {
  if (!f.product) throw new RangeError('give a JOB.json file or --product with at least one measure');
  const origins: FlagOrigins = { product: `--product ${f.product}` };
  const measures: Record<string, unknown>[] = [];
  const add = (m: Record<string, unknown>, flag: string): void => {
    origins[`measures[${measures.length}]`] = flag;
    measures.push(m);
  };
  if (f.count) add({ fn: 'count' }, '--count');
  for (const s of f.sum ?? []) add(bounded('sum', s), `--sum ${s}`);
  for (const s of f.mean ?? []) add(bounded('mean', s), `--mean ${s}`);
  for (const s of f.variance ?? []) add(bounded('variance', s), `--variance ${s}`);
  for (const s of f.histogram ?? []) {
    const [column, edges] = s.split(':');
    if (!column || !edges) throw new RangeError(`--histogram: expected COLUMN:E0,E1,...; got ${JSON.stringify(s)}`);
    add({ fn: 'histogram', column, bins: edges.split(',').map((x) => num(`histogram ${s}: edge`, x)) }, `--histogram ${s}`);
  }
  for (const s of f.quantile ?? []) {
    const parts = s.split(':');
    if (parts.length !== 4) throw new RangeError(`--quantile: expected COLUMN:LOWER:UPPER:Q1,Q2,...; got ${JSON.stringify(s)}`);
    add({ fn: 'quantile', column: parts[0], bounds: [num(`quantile ${s}: LOWER`, parts[1]), num(`quantile ${s}: UPPER`, parts[2])], quantiles: parts[3]!.split(',').map((x) => num(`quantile ${s}: quantile`, x)) }, `--quantile ${s}`);
  }
  (f.where ?? []).forEach((w, i) => (origins[`where[${i}]`] = `--where ${w}`));
  if (f.groupBy) origins.groupBy = `--group-by ${f.groupBy}`;
  if (f.groupKeys?.length) origins.groupKeys = `--group-keys ${f.groupKeys.join(' --group-keys ')}`;
  if (measures.length === 0) throw new RangeError('no measure given: use --count, --sum, --mean, --variance, --histogram or --quantile');
  const job: Record<string, unknown> = {
    kind: 'aggregate',
    product: f.product,
    where: (f.where ?? []).map(parseWhere),
    groupBy: f.groupBy ? f.groupBy.split(',').map((s) => s.trim()).filter(Boolean) : [],
    measures,
  };
  if (f.groupKeys?.length) {
    const keys: Record<string, Scalar[]> = {};
    for (const g of f.groupKeys) {
      const m = /^([A-Za-z_]\w*)=(.+)$/.exec(g.trim());
      if (!m) throw new RangeError(`--group-keys: expected COLUMN=V1,V2,...; got ${JSON.stringify(g)}`);
      keys[m[1]!] = m[2]!.split(',').map(parseValue);
    }
    job.groupKeys = keys;
  }
  applyCommonFlags(job, f);
  Object.assign(origins, commonFlagOrigins(f));
  return { job, origins };
}

/** The fields the privacy and execution flags set, and the flags. */
export function commonFlagOrigins(f: QueryFlags): FlagOrigins {
  const o: FlagOrigins = {};
  const set = (field: string, flag: string, v: string | undefined): void => {
    if (v !== undefined) o[field] = `--${flag} ${v}`;
  };
  set('privacy.mode', 'privacy', f.privacy);
  set('privacy.epsilon', 'epsilon', f.epsilon);
  set('privacy.delta', 'delta', f.delta);
  set('privacy.rho', 'rho', f.rho);
  set('privacy.maxRowsPerPerson', 'max-rows-per-person', f.maxRowsPerPerson);
  set('privacy.tolerated', 'tolerated', f.tolerated);
  set('secure', 'secure', f.secure);
  set('secureThreshold', 'secure-threshold', f.secureThreshold);
  set('secureMaxRows', 'secure-max-rows', f.secureMaxRows);
  set('quorum', 'quorum', f.quorum);
  set('timeoutMs', 'timeout-ms', f.timeoutMs);
  set('agents', 'agents', f.agents);
  return o;
}

/** Privacy and execution flags override the same fields of a JSON job. */
export function applyCommonFlags(job: Record<string, unknown>, f: QueryFlags): void {
  if (f.privacy || f.epsilon || f.delta || f.rho || f.maxRowsPerPerson || f.tolerated) {
    const privacy: Record<string, unknown> = { ...((job.privacy as Record<string, unknown> | undefined) ?? {}) };
    if (f.privacy) privacy.mode = f.privacy;
    const eps = num('epsilon', f.epsilon);
    const delta = num('delta', f.delta);
    const rho = num('rho', f.rho);
    if (eps !== undefined) privacy.epsilon = eps;
    if (delta !== undefined) privacy.delta = delta;
    if (rho !== undefined) privacy.rho = rho;
    const k = num('max-rows-per-person', f.maxRowsPerPerson);
    if (k !== undefined) privacy.maxRowsPerPerson = k;
    const tolerated = num('tolerated', f.tolerated);
    if (tolerated !== undefined) privacy.tolerated = tolerated;
    job.privacy = privacy;
  }
  if (f.secure) job.secure = f.secure;
  const threshold = num('secure-threshold', f.secureThreshold);
  if (threshold !== undefined) job.secureThreshold = threshold;
  const maxRows = num('secure-max-rows', f.secureMaxRows);
  if (maxRows !== undefined) job.secureMaxRows = maxRows;
  const quorum = num('quorum', f.quorum);
  if (quorum !== undefined) job.quorum = quorum;
  const timeoutMs = num('timeout-ms', f.timeoutMs);
  if (timeoutMs !== undefined) job.timeoutMs = timeoutMs;
  if (f.agents) job.agents = f.agents.split(',').map((s) => s.trim());
}
