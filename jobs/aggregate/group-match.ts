/**
 * How an agent matches the groups its query found to the job's public group combinations. The query filters and groups
 * by the key columns' own types (a DECIMAL column against 1.5, a VARCHAR zip code against the number 12345 the CLI
 * parsed), so a group carries the column's value as the engine returns it ('1.50', '12345', '2024-01-05 00:00:00',
 * true) while the combination carries the spec's. Matched by their JSON, such a released group went out as zeros and
 * vanished from the result while the differencing guard had recorded its persons (red teams 45, M1, and 46, M1).
 * Both sides are put in one canonical form per column type instead. Pure.
 */
import { isIntegerType, isNumericType, type KeyValue } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../../common/errors.js';
import { publicGroupCombos, type AggregateJob } from '../../common/job/index.js';

/** A key's canonical form: equal for a combination and the group the query matched to it. */
export type KeyMatcher = (key: readonly KeyValue[]) => string;

/** Each value as text (null stays null): the coordinator's check, which knows no column type. */
export const comboKey: KeyMatcher = (key) => JSON.stringify(key.map((v) => (v === null ? null : String(v))));

// A UTC offset of zero (PostgreSQL's timestamptz in the agent's pinned UTC session: '… 00:00:00+00') is the same
// instant; another offset is left as text (no match, rather than a guess).
const DATE_TIME = /^(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(\.\d+)?)?)?(?:Z|[+-]00(?::?00)?)?$/;

/** A decimal numeral exactly, without leading or trailing zeros ('001.50' and 1.5 are '1.5'); undefined if not one. */
function decimalText(text: string): string | undefined {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const int = m[2]!.replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === '-' && /[1-9]/.test(body) ? `-${body}` : body;
}

/** One value in the canonical form of its column's type; text when it does not parse as that type. */
function canonical(v: KeyValue, type: string): string | null {
  if (v === null || v === undefined) return null;
  const t = type.toUpperCase();
  const text = String(v);
  if (t === 'BOOLEAN' || t === 'BOOL') {
    if (v === true || v === 1 || /^(true|t|1|yes|y|on)$/i.test(text.trim())) return 'true';
    if (v === false || v === 0 || /^(false|f|0|no|n|off)$/i.test(text.trim())) return 'false';
    return text;
  }
  if (isIntegerType(t)) {
    // Exactly, beyond 2^53 too (a BIGINT id): "01", 1 and 1.0 are 1.
    if (/^\s*[-+]?\d+\s*$/.test(text)) return BigInt(text.trim()).toString();
    return Number.isInteger(Number(text)) && text.trim() !== '' ? BigInt(Number(text)).toString() : text;
  }
  if (t.startsWith('DECIMAL') || t.startsWith('NUMERIC')) {
    // Exactly, as digits: through a double, 16 or more significant digits would merge distinct values.
    const exact = decimalText(text) ?? (Number.isFinite(Number(text)) && text.trim() !== '' ? decimalText(Number(text).toFixed(20)) : undefined);
    return exact ?? text;
  }
  if (isNumericType(t)) {
    const x = Number(text);
    return text.trim() !== '' && Number.isFinite(x) ? String(x) : text;
  }
  if (t === 'DATE' || t.startsWith('TIMESTAMP') && !t.includes('TIME ZONE') && !t.endsWith('TZ')) {
    const m = DATE_TIME.exec(text.trim());
    if (!m) return text;
    const p = (s: string | undefined, n: number): string => (s ?? '0').padStart(n, '0');
    const frac = (m[7] ?? '').replace(/\.?0+$/, '');
    return t === 'DATE' ? `${p(m[1], 4)}-${p(m[2], 2)}-${p(m[3], 2)}` : `${p(m[1], 4)}-${p(m[2], 2)}-${p(m[3], 2)} ${p(m[4], 2)}:${p(m[5], 2)}:${p(m[6], 2)}${frac}`;
  }
  return text;
}

/** The agent's matcher for a job's key columns, from its catalogue's column types (unknown column: text). */
export function keyMatcher(job: AggregateJob, columnType: (column: string) => string | undefined): KeyMatcher {
  const types = job.groupBy.map((c) => columnType(c) ?? 'VARCHAR');
  return (key) => JSON.stringify(key.map((v, i) => canonical(v, types[i] ?? 'VARCHAR')));
}

/**
 * The public combinations by canonical key.
 * @throws FedmeshError INVALID_JOB naming `groupKeys` when two combinations are one group under `keyOf` (1 and "1";
 *   at an agent, 1.5 and "1.50" of a DECIMAL column): their statistics would be the same group's, counted twice
 */
export function distinctCombos(job: AggregateJob, keyOf: KeyMatcher): Map<string, number> {
  const combos = publicGroupCombos(job) ?? [];
  const out = new Map<string, number>();
  combos.forEach((c, i) => {
    const k = keyOf(c);
    if (out.has(k)) throw new FedmeshError('INVALID_JOB', `groupKeys: ${JSON.stringify(combos[out.get(k)!])} and ${JSON.stringify(c)} are the same group of ${job.groupBy.join(', ')}; list each once`, { field: 'groupKeys' });
    out.set(k, i);
  });
  return out;
}
