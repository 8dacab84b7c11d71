/**
 * Patient consent (issue 11), pure: FHIR R4 `Consent` resources and rows of a simple consent table become one
 * model, and a decision per person, purpose of use and time. The mesh is opt-out per purpose: a person with no
 * applicable consent record is included; a person whose applicable record says `deny` for the job's purpose
 * influences no result for that purpose (the agent's data scope leaves the person out before any computation).
 *
 * Rules (FHIR R4 Consent, https://hl7.org/fhir/R4/consent.html):
 * - only `status: active` resources with scope `research` or `patient-privacy` count (others are skipped, counted);
 * - a provision applies when the time is inside its `period` (open ends allowed) and the purpose is among its
 *   `purpose` codings (none listed: every purpose); its `type` is the decision, inherited by nested provisions;
 * - nested provisions override their parent where they apply; among applicable siblings `deny` beats `permit`;
 * - several records for one person: the newest (`dateTime`, or a table row's `start`) that decides wins, and on a
 *   tie `deny` wins (the conservative choice when records disagree).
 */

export type ConsentDecision = 'permit' | 'deny';

/** HL7 v3 PurposeOfUse codes (HRESCH, CLINTRCH, PUBHLTH, TREAT, …): upper-case letters. */
const PURPOSE = /^[A-Z][A-Z-]{1,19}$/;
const MAX_DEPTH = 8;
const MAX_PROVISIONS = 64;
const SCOPES = new Set(['research', 'patient-privacy']);

export interface ConsentProvision {
  type: ConsentDecision | undefined;
  startMs: number | undefined;
  endMs: number | undefined;
  /** Purpose codes; empty: every purpose. */
  purposes: string[];
  provisions: ConsentProvision[];
}

export interface PatientConsent {
  /** The person: the Patient id (FHIR) or `person_id` (table), as text. */
  person: string;
  /** When the record was made, for "newest wins"; undefined sorts as oldest. */
  recordedAtMs: number | undefined;
  root: ConsentProvision;
  /** Where it came from (file:line or resource id), for the domain's own messages. */
  source: string;
}

export function isPurposeCode(v: unknown): v is string {
  return typeof v === 'string' && PURPOSE.test(v);
}

/** FHIR date/dateTime/instant to epoch ms (partial dates start at their first instant, UTC when no offset). */
export function fhirTimeMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{4})(-(\d{2})(-(\d{2})(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(v);
  if (!m) return undefined;
  const iso = m[6] ? `${m[1]}-${m[3]}-${m[5]}${m[6]}${m[7] ? '' : 'Z'}` : `${m[1]}-${m[3] ?? '01'}-${m[5] ?? '01'}T00:00:00Z`;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
}

/** The id a FHIR reference points at: `Patient/123` → 123, `urn:uuid:x` → x; conditional references give undefined. */
export function referenceId(ref: unknown): string | undefined {
  if (typeof ref !== 'string' || ref === '' || ref.includes('?')) return undefined;
  if (/^urn:(uuid|oid):/.test(ref)) return ref.replace(/^urn:(uuid|oid):/, '');
  const id = /([^/]+)$/.exec(ref.replace(/\/_history\/[^/]*$/, ''))?.[1];
  return id && /^[A-Za-z0-9\-.]{1,64}$/.test(id) ? id : undefined;
}

export type ParsedConsent = { ok: true; consent: PatientConsent } | { ok: true; skipped: string } | { ok: false; problem: string };

function parseProvision(p: unknown, path: string, depth: number, count: { n: number }): ConsentProvision | string {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return `${path} must be an object`;
  if (depth > MAX_DEPTH) return `${path} is nested more than ${MAX_DEPTH} deep`;
  if (++count.n > MAX_PROVISIONS) return `more than ${MAX_PROVISIONS} provisions`;
  const o = p as Record<string, unknown>;
  if (o.type !== undefined && o.type !== 'permit' && o.type !== 'deny') return `${path}.type must be permit or deny`;
  let startMs: number | undefined;
  let endMs: number | undefined;
  if (o.period !== undefined) {
    const per = o.period as Record<string, unknown> | null;
    if (per === null || typeof per !== 'object') return `${path}.period must be an object`;
    if (per.start !== undefined && (startMs = fhirTimeMs(per.start)) === undefined) return `${path}.period.start is not a FHIR dateTime`;
    if (per.end !== undefined && (endMs = fhirTimeMs(per.end)) === undefined) return `${path}.period.end is not a FHIR dateTime`;
    if (startMs !== undefined && endMs !== undefined && endMs < startMs) return `${path}.period ends before it starts`;
  }
  const purposes: string[] = [];
  if (o.purpose !== undefined) {
    if (!Array.isArray(o.purpose)) return `${path}.purpose must be a list of Codings`;
    for (const [k, c] of o.purpose.entries()) {
      const code = (c as { code?: unknown } | null)?.code;
      if (!isPurposeCode(code)) return `${path}.purpose[${k}].code must be a PurposeOfUse code such as HRESCH`;
      purposes.push(code);
    }
  }
  const provisions: ConsentProvision[] = [];
  if (o.provision !== undefined) {
    if (!Array.isArray(o.provision)) return `${path}.provision must be a list`;
    for (const [k, c] of o.provision.entries()) {
      const child = parseProvision(c, `${path}.provision[${k}]`, depth + 1, count);
      if (typeof child === 'string') return child;
      provisions.push(child);
    }
  }
  return { type: o.type as ConsentDecision | undefined, startMs, endMs, purposes, provisions };
}

/** Parses one FHIR R4 Consent resource. Inactive or out-of-scope resources are skipped with the reason. */
export function parseFhirConsent(resource: unknown, where: string): ParsedConsent {
  if (resource === null || typeof resource !== 'object') return { ok: false, problem: `${where}: not a JSON object` };
  const r = resource as Record<string, unknown>;
  if (r.resourceType !== 'Consent') return { ok: false, problem: `${where}: resourceType is not Consent` };
  if (r.status !== 'active') return { ok: true, skipped: `status ${typeof r.status === 'string' ? r.status.slice(0, 20) : 'missing'}` };
  const scopes = ((r.scope as { coding?: unknown } | undefined)?.coding ?? []) as unknown[];
  if (!Array.isArray(scopes) || !scopes.some((c) => SCOPES.has(String((c as { code?: unknown } | null)?.code)))) return { ok: true, skipped: 'scope is neither research nor patient-privacy' };
  const person = referenceId((r.patient as { reference?: unknown } | undefined)?.reference);
  if (person === undefined) return { ok: false, problem: `${where}: patient.reference must reference a Patient (Patient/ID)` };
  if (r.provision === undefined) return { ok: true, skipped: 'no provision' };
  const root = parseProvision(r.provision, 'provision', 0, { n: 0 });
  if (typeof root === 'string') return { ok: false, problem: `${where}: ${root}` };
  const recordedAtMs = r.dateTime === undefined ? undefined : fhirTimeMs(r.dateTime);
  if (r.dateTime !== undefined && recordedAtMs === undefined) return { ok: false, problem: `${where}: dateTime is not a FHIR dateTime` };
  return { ok: true, consent: { person, recordedAtMs, root, source: typeof r.id === 'string' ? `Consent/${r.id.slice(0, 64)}` : where } };
}

export interface ConsentRow {
  person_id: unknown;
  purpose: unknown;
  decision: unknown;
  start: unknown;
  end: unknown;
}

/** One row of the consent table (`person_id, purpose, decision, start, end`; purpose `*` or empty: every purpose). */
export function parseConsentRow(row: ConsentRow, where: string): { ok: true; consent: PatientConsent } | { ok: false; problem: string } {
  const person = typeof row.person_id === 'number' || typeof row.person_id === 'bigint' ? String(row.person_id) : typeof row.person_id === 'string' ? row.person_id.trim() : '';
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(person)) return { ok: false, problem: `${where}: person_id is missing or not an id` };
  const decision = typeof row.decision === 'string' ? row.decision.trim().toLowerCase() : '';
  if (decision !== 'permit' && decision !== 'deny') return { ok: false, problem: `${where}: decision must be permit or deny` };
  const purpose = typeof row.purpose === 'string' ? row.purpose.trim() : '';
  if (purpose !== '' && purpose !== '*' && !isPurposeCode(purpose)) return { ok: false, problem: `${where}: purpose must be a PurposeOfUse code (HRESCH, …) or *` };
  const time = (v: unknown, name: string): number | undefined | string => {
    if (v === null || v === undefined || v === '') return undefined;
    const t = v instanceof Date ? v.getTime() : fhirTimeMs(String(v).replace(' ', 'T'));
    return t === undefined ? `${where}: ${name} is not a date` : t;
  };
  const startMs = time(row.start, 'start');
  const endMs = time(row.end, 'end');
  if (typeof startMs === 'string') return { ok: false, problem: startMs };
  if (typeof endMs === 'string') return { ok: false, problem: endMs };
  const root: ConsentProvision = { type: decision, startMs, endMs, purposes: purpose === '' || purpose === '*' ? [] : [purpose], provisions: [] };
  return { ok: true, consent: { person, recordedAtMs: startMs, root, source: where } };
}

function applies(p: ConsentProvision, purpose: string, atMs: number): boolean {
  if (p.startMs !== undefined && atMs < p.startMs) return false;
  if (p.endMs !== undefined && atMs > p.endMs) return false;
  return p.purposes.length === 0 || p.purposes.includes(purpose);
}

/** The decision of a provision tree for `purpose` at `atMs`; undefined when it does not apply. Depth ≤ MAX_DEPTH. */
export function decideProvision(p: ConsentProvision, purpose: string, atMs: number, inherited?: ConsentDecision): ConsentDecision | undefined {
  if (!applies(p, purpose, atMs)) return undefined;
  const own = p.type ?? inherited;
  const children = p.provisions.map((c) => decideProvision(c, purpose, atMs, own)).filter((d): d is ConsentDecision => d !== undefined);
  if (children.includes('deny')) return 'deny';
  if (children.includes('permit')) return 'permit';
  return own;
}

/** One person's decision from all their records (see the module comment): newest deciding record, deny on a tie. */
export function personDecision(consents: readonly PatientConsent[], purpose: string, atMs: number): ConsentDecision | undefined {
  let best: { at: number; d: ConsentDecision } | undefined;
  for (const c of consents) {
    const d = decideProvision(c.root, purpose, atMs);
    if (d === undefined) continue;
    const at = c.recordedAtMs ?? -Infinity;
    if (!best || at > best.at || (at === best.at && d === 'deny')) best = { at, d };
  }
  return best?.d;
}

/** Persons who opted out of `purpose` at `atMs`: the set the agent's data scope leaves out. */
export function optedOutPersons(consents: readonly PatientConsent[], purpose: string, atMs: number): Set<string> {
  if (!isPurposeCode(purpose)) throw new RangeError(`purpose must be a PurposeOfUse code such as HRESCH`);
  const byPerson = new Map<string, PatientConsent[]>();
  for (const c of consents) byPerson.set(c.person, [...(byPerson.get(c.person) ?? []), c]);
  const out = new Set<string>();
  for (const [person, list] of byPerson) if (personDecision(list, purpose, atMs) === 'deny') out.add(person);
  return out;
}
