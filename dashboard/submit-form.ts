/**
 * The Submit form → a job spec, for the common jobs: an aggregate (count, a bounded mean, a histogram over public
 * edges, grouped), a cohort from an uploaded OHDSI Circe JSON, and a Kaplan–Meier survival from an uploaded
 * target cohort to death or an uploaded outcome cohort; each in the clear or under secure aggregation (secagg). Every field is bounded and a bad one is refused with a
 * message that names it (and never echoes more than a few characters of what was typed).
 *
 * The privacy cost shown before submitting is the budget the spec declares: the coordinator charges exactly that
 * (ε, δ), or the (ε, δ) its zCDP ρ converts to at δ, to the product's population when the job is admitted.
 */
import { FedmeshError, quote } from '../common/errors.js';
import { epsilonFromRho } from '../algorithms/dp/accounting/zcdp.js';

/** Largest uploaded Circe file read (real definitions are tens of kilobytes). */
export const MAX_UPLOAD_BYTES = 1024 * 1024;
const MAX_FIELD_CHARS = 200;
const COLUMN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const FORM_KINDS = ['aggregate', 'cohort', 'survival'] as const;
export const FORM_MODES = ['none', 'central-dp', 'local-dp', 'distributed-dp'] as const;
/** Secure sums the form offers: every form kind (aggregate, cohort, survival) can be summed under secagg. */
export const FORM_SECURE = ['', 'secagg', 'he'] as const;
/** Most public group keys per groupBy column. */
const MAX_GROUP_KEYS = 200;
/** δ the preview converts ρ at when the form gives none (the coordinator's default budget δ). */
export const PREVIEW_DELTA = 1e-6;

type FormValue = string | File | (string | File)[] | undefined;
export type FormBody = Record<string, FormValue>;

function bad(field: string, why: string): FedmeshError {
  return new FedmeshError('INVALID_ARGUMENT', `${field}: ${why}`, { field });
}

function text(body: FormBody, field: string): string {
  const v = body[field];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw bad(field, 'must be a single text value');
  if (v.length > MAX_FIELD_CHARS) throw bad(field, `at most ${MAX_FIELD_CHARS} characters`);
  return v.trim();
}

function number(body: FormBody, field: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  const s = text(body, field);
  if (s === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw bad(field, `must be a number, got ${quote(s, 20)}`);
  if (opts.integer && !Number.isInteger(n)) throw bad(field, 'must be a whole number');
  if (opts.min !== undefined && n < opts.min) throw bad(field, `must be at least ${opts.min}`);
  if (opts.max !== undefined && n > opts.max) throw bad(field, `must be at most ${opts.max}`);
  return n;
}

function column(body: FormBody, field: string): string | undefined {
  const s = text(body, field);
  if (s === '') return undefined;
  if (!COLUMN.test(s)) throw bad(field, `must be a column name (letters, digits, _), got ${quote(s, 20)}`);
  return s;
}

async function jsonUpload(body: FormBody, field: string): Promise<Record<string, unknown> | undefined> {
  const v = body[field];
  if (v === undefined || v === '') return undefined;
  if (!(v instanceof File)) throw bad(field, 'must be an uploaded JSON file');
  if (v.size === 0) return undefined;
  if (v.size > MAX_UPLOAD_BYTES) throw bad(field, `the file is larger than ${MAX_UPLOAD_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await v.text());
  } catch {
    throw bad(field, 'the file is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(field, 'the file must hold one JSON object (a Circe cohort definition)');
  return parsed as Record<string, unknown>;
}

/**
 * The secure sum: secagg (pairwise masks, the coordinator sees only the sum) for every form kind, in mode none or
 * distributed-dp. HE is refused here, naming why: its secret key must be made and kept on the researcher's own
 * machine, and the dashboard runs in the coordinator's process, which must never hold it.
 */
function secure(body: FormBody, mode: string): 'secagg' | undefined {
  const s = text(body, 'secure');
  if (!(FORM_SECURE as readonly string[]).includes(s)) throw bad('secure', 'must be empty, secagg or he');
  if (s === 'he') throw bad('secure', 'he needs a key pair made and kept on your own machine, and the dashboard runs at the coordinator, which must never hold the secret key: submit HE jobs with the CLI (fedmesh query --secure he), or choose secagg');
  if (s === '' && mode === 'distributed-dp') throw bad('mode', 'distributed-dp needs a secure sum: choose secure aggregation (secagg), so the coordinator sees only the sum of the agents’ noise shares');
  if (s === 'secagg' && mode !== 'none' && mode !== 'distributed-dp') throw bad('secure', `secure aggregation works with privacy mode none or distributed-dp, not ${mode}`);
  return s === 'secagg' ? 'secagg' : undefined;
}

function privacy(body: FormBody): Record<string, unknown> {
  const mode = text(body, 'mode') || 'none';
  if (!(FORM_MODES as readonly string[]).includes(mode)) throw bad('mode', `must be one of ${FORM_MODES.join(', ')}`);
  if (mode === 'none') return { mode };
  const epsilon = number(body, 'epsilon', { min: 1e-6, max: 100 });
  const delta = number(body, 'delta', { min: 0, max: 0.01 });
  const rho = number(body, 'rho', { min: 1e-9, max: 100 });
  if (epsilon === undefined && rho === undefined) throw bad('epsilon', `mode ${mode} needs ε (or ρ)`);
  if (epsilon !== undefined && rho !== undefined) throw bad('rho', 'give ε or ρ, not both');
  if (mode === 'distributed-dp' && rho === undefined && !(delta !== undefined && delta > 0)) throw bad('delta', 'distributed-dp adds discrete Gaussian shares: give δ > 0 with ε, or ρ');
  const maxRows = number(body, 'maxRowsPerPerson', { min: 1, max: 1000, integer: true });
  return { mode, ...(epsilon !== undefined ? { epsilon } : {}), ...(rho !== undefined ? { rho } : {}), ...(delta !== undefined ? { delta } : {}), ...(maxRows !== undefined ? { maxRowsPerPerson: maxRows } : {}) };
}

function aggregate(body: FormBody, priv: Record<string, unknown>, secureSum: boolean): Record<string, unknown> {
  const product = column(body, 'product');
  if (!product) throw bad('product', 'choose a data product');
  const measures: Record<string, unknown>[] = [];
  if (body.count !== undefined) measures.push({ fn: 'count' });
  const meanCol = column(body, 'meanColumn');
  if (meanCol) {
    const lo = number(body, 'meanLo');
    const hi = number(body, 'meanHi');
    if (lo === undefined || hi === undefined) throw bad('meanLo', 'a mean needs public bounds (lower and upper)');
    measures.push({ fn: 'mean', column: meanCol, bounds: [lo, hi] });
  }
  const histCol = column(body, 'histColumn');
  if (histCol) {
    const edges = text(body, 'histEdges').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (edges.length < 2 || edges.some((e) => !Number.isFinite(e))) throw bad('histEdges', 'give at least two comma-separated numeric bin edges');
    measures.push({ fn: 'histogram', column: histCol, bins: edges });
  }
  if (measures.length === 0) throw bad('count', 'choose at least one measure (count, mean or histogram)');
  const groupBy = text(body, 'groupBy').split(',').map((s) => s.trim()).filter(Boolean);
  for (const g of groupBy) if (!COLUMN.test(g)) throw bad('groupBy', `must be comma-separated column names, got ${quote(g, 20)}`);
  const groupKeys = publicGroupKeys(body, groupBy);
  if (secureSum && groupBy.length > 0 && !groupKeys) throw bad('groupKeys', 'secure aggregation needs a fixed public layout: give the public group keys of every groupBy column');
  return { kind: 'aggregate', product, ...(groupBy.length ? { groupBy } : {}), ...(groupKeys ? { groupKeys } : {}), measures, privacy: priv };
}

/** `col=v1,v2; col2=a,b` → public group keys (numbers where a value is a number), one list per groupBy column. */
function publicGroupKeys(body: FormBody, groupBy: string[]): Record<string, (string | number)[]> | undefined {
  const raw = text(body, 'groupKeys');
  if (raw === '') return undefined;
  if (groupBy.length === 0) throw bad('groupKeys', 'group keys need groupBy columns');
  const out: Record<string, (string | number)[]> = {};
  for (const part of raw.split(';').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]{0,63})\s*=\s*(.+)$/.exec(part);
    if (!m || !groupBy.includes(m[1]!)) throw bad('groupKeys', `must be column=value,value; … for the groupBy columns, got ${quote(part, 20)}`);
    const values = m[2]!.split(',').map((v) => v.trim()).filter(Boolean).map((v) => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v));
    if (values.length === 0 || values.length > MAX_GROUP_KEYS) throw bad('groupKeys', `give 1 to ${MAX_GROUP_KEYS} values for ${m[1]}`);
    out[m[1]!] = values;
  }
  for (const g of groupBy) if (!out[g]) throw bad('groupKeys', `give the public keys of every groupBy column (${g} has none)`);
  return out;
}

/** The spec the form describes. @throws FedmeshError INVALID_ARGUMENT naming the field */
export async function specFromForm(body: FormBody): Promise<Record<string, unknown>> {
  const kind = text(body, 'kind') || 'aggregate';
  if (!(FORM_KINDS as readonly string[]).includes(kind)) throw bad('kind', `must be one of ${FORM_KINDS.join(', ')}`);
  const priv = privacy(body);
  const sec = secure(body, String(priv.mode));
  const withSecure = (spec: Record<string, unknown>): Record<string, unknown> => (sec ? { ...spec, secure: sec } : spec);
  if (kind === 'aggregate') return withSecure(aggregate(body, priv, sec !== undefined));
  if (kind === 'cohort') {
    const definition = await jsonUpload(body, 'circe');
    if (!definition) throw bad('circe', 'upload a Circe cohort definition (JSON)');
    return withSecure({ kind: 'cohort', definition, privacy: priv });
  }
  const target = await jsonUpload(body, 'target');
  if (!target) throw bad('target', 'upload the target cohort (Circe JSON)');
  const outcomeFile = await jsonUpload(body, 'outcome');
  const binDays = number(body, 'binDays', { min: 1, max: 3650, integer: true }) ?? 30;
  const maxDays = number(body, 'maxDays', { min: 1, max: 36500, integer: true }) ?? 1825;
  const strata = text(body, 'strata');
  if (strata !== '' && strata !== 'gender') throw bad('strata', "must be empty or 'gender'");
  return withSecure({ kind: 'survival', target, outcome: outcomeFile ? { definition: outcomeFile } : { domain: 'death', conceptIds: [] }, timeGrid: { binDays, maxDays }, ...(strata ? { strata } : {}), privacy: priv });
}

export interface CostPreview {
  mode: string;
  /** ε charged (at δ), or 0 in mode none. */
  epsilon: number;
  delta: number;
  rho?: number;
  text: string;
}

/** What the coordinator sees of each agent under the spec's secure sum and mode, stated next to the cost. */
export function secureNote(spec: Record<string, unknown>): string | undefined {
  if (spec.secure !== 'secagg') return undefined;
  const mode = (spec.privacy as { mode?: string } | undefined)?.mode;
  return `Secure aggregation (secagg): each agent masks its statistics with pairwise masks that cancel in the sum, so the coordinator sees only the sum over the agents${mode === 'distributed-dp' ? ', and each agent adds a share of the noise: the shares of the agents that are not tolerated to drop out or collude give the stated privacy' : ' (exact, mode none)'}; a secure job needs at least three agents serving the product (with two, the sum would reveal the other's input) and a majority of them to answer.`;
}

/** What the spec will be charged. */
export function previewCost(spec: Record<string, unknown>): CostPreview {
  const p = (spec.privacy ?? { mode: 'none' }) as { mode: string; epsilon?: number; delta?: number; rho?: number };
  if (p.mode === 'none') return { mode: 'none', epsilon: 0, delta: 0, text: 'No privacy budget is charged: mode none releases exact aggregates, and each agent withholds cells below its minimum size.' };
  const delta = p.delta ?? PREVIEW_DELTA;
  if (p.epsilon !== undefined) return { mode: p.mode, epsilon: p.epsilon, delta, text: `ε = ${p.epsilon}, δ = ${delta} will be reserved from your budget for the product’s population before any agent computes (never refunded).` };
  const atDelta = delta > 0 ? delta : PREVIEW_DELTA;
  const epsilon = epsilonFromRho(p.rho!, atDelta);
  return { mode: p.mode, epsilon, delta: atDelta, rho: p.rho!, text: `ρ = ${p.rho} (zCDP), which is ε = ${Number(epsilon.toPrecision(4))} at δ = ${atDelta}, will be reserved from your budget for the product’s population before any agent computes (never refunded).` };
}
