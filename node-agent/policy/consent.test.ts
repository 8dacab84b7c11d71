import { describe, expect, it } from 'vitest';
import { decideProvision, fhirTimeMs, optedOutPersons, parseConsentRow, parseFhirConsent, personDecision, referenceId, type PatientConsent } from './consent.js';

const RESEARCH = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] };
const purpose = (code: string) => ({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code });
const T = (s: string): number => Date.parse(s);

function fhir(patient: string, provision: unknown, extra: Record<string, unknown> = {}): PatientConsent {
  const r = parseFhirConsent({ resourceType: 'Consent', id: `c-${patient}`, status: 'active', scope: RESEARCH, patient: { reference: `Patient/${patient}` }, provision, ...extra }, 'test');
  if (!r.ok || !('consent' in r)) throw new Error(JSON.stringify(r));
  return r.consent;
}

describe('FHIR R4 Consent: one person, one purpose, one time', () => {
  it('a deny for HRESCH opts out of HRESCH only', () => {
    const c = fhir('1', { type: 'deny', purpose: [purpose('HRESCH')] });
    expect(personDecision([c], 'HRESCH', T('2026-01-01'))).toBe('deny');
    expect(personDecision([c], 'PUBHLTH', T('2026-01-01'))).toBeUndefined();
  });

  it('a nested provision overrides its parent where it applies (deny research, but permit public health)', () => {
    const c = fhir('1', { type: 'deny', provision: [{ type: 'permit', purpose: [purpose('PUBHLTH')] }] });
    expect(decideProvision(c.root, 'HRESCH', T('2026-01-01'))).toBe('deny');
    expect(decideProvision(c.root, 'PUBHLTH', T('2026-01-01'))).toBe('permit');
  });

  it('a nested provision inherits its type when it has none, and deeper nesting overrides again', () => {
    const c = fhir('1', { type: 'permit', provision: [{ purpose: [purpose('HRESCH')], provision: [{ type: 'deny', period: { start: '2026-06-01' } }] }] });
    expect(decideProvision(c.root, 'HRESCH', T('2026-01-01'))).toBe('permit');
    expect(decideProvision(c.root, 'HRESCH', T('2026-07-01'))).toBe('deny');
  });

  it('periods bound a provision (open ends allowed; partial dates start at their first instant)', () => {
    const c = fhir('1', { type: 'deny', period: { start: '2025', end: '2025-12-31T23:59:59Z' } });
    expect(personDecision([c], 'HRESCH', T('2024-12-31T23:59:59Z'))).toBeUndefined();
    expect(personDecision([c], 'HRESCH', T('2025-06-01'))).toBe('deny');
    expect(personDecision([c], 'HRESCH', T('2026-01-01'))).toBeUndefined();
  });

  it('among several records the newest deciding one wins; a tie is a deny', () => {
    const optOut = fhir('1', { type: 'deny' }, { dateTime: '2024-01-01' });
    const optIn = fhir('1', { type: 'permit' }, { dateTime: '2025-01-01' });
    expect(personDecision([optOut, optIn], 'HRESCH', T('2026-01-01'))).toBe('permit');
    expect(personDecision([optIn, fhir('1', { type: 'deny' }, { dateTime: '2025-01-01' })], 'HRESCH', T('2026-01-01'))).toBe('deny');
  });

  it('siblings that disagree: deny beats permit', () => {
    const c = fhir('1', { type: 'permit', provision: [{ type: 'permit', purpose: [purpose('HRESCH')] }, { type: 'deny', purpose: [purpose('HRESCH')] }] });
    expect(decideProvision(c.root, 'HRESCH', 0)).toBe('deny');
  });

  it('inactive, out-of-scope and provision-less resources are skipped with the reason', () => {
    const base = { resourceType: 'Consent', scope: RESEARCH, patient: { reference: 'Patient/1' }, provision: { type: 'deny' } };
    expect(parseFhirConsent({ ...base, status: 'inactive' }, 'x')).toEqual({ ok: true, skipped: 'status inactive' });
    expect(parseFhirConsent({ ...base, status: 'active', scope: { coding: [{ code: 'treatment' }] } }, 'x')).toMatchObject({ skipped: 'scope is neither research nor patient-privacy' });
    expect(parseFhirConsent({ ...base, status: 'active', provision: undefined }, 'x')).toMatchObject({ skipped: 'no provision' });
  });

  it('malformed resources are refused naming the field', () => {
    const base = { resourceType: 'Consent', status: 'active', scope: RESEARCH, patient: { reference: 'Patient/1' } };
    expect(parseFhirConsent({ ...base, provision: { type: 'maybe' } }, 'f:3')).toEqual({ ok: false, problem: 'f:3: provision.type must be permit or deny' });
    expect(parseFhirConsent({ ...base, provision: { type: 'deny', period: { start: 'soon' } } }, 'f:3')).toMatchObject({ ok: false, problem: 'f:3: provision.period.start is not a FHIR dateTime' });
    expect(parseFhirConsent({ ...base, provision: { type: 'deny', purpose: [{ code: 'research please' }] } }, 'f:3')).toMatchObject({ problem: expect.stringContaining('provision.purpose[0].code') });
    expect(parseFhirConsent({ ...base, patient: { reference: 'Patient?identifier=x' }, provision: { type: 'deny' } }, 'f:3')).toMatchObject({ problem: expect.stringContaining('patient.reference') });
    let deep: Record<string, unknown> = { type: 'deny' };
    for (let k = 0; k < 12; k++) deep = { provision: [deep] };
    expect(parseFhirConsent({ ...base, provision: deep }, 'f:3')).toMatchObject({ problem: expect.stringContaining('nested more than 8 deep') });
  });

  it('references and times parse as FHIR writes them', () => {
    expect(referenceId('Patient/123')).toBe('123');
    expect(referenceId('https://x.org/fhir/Patient/abc/_history/2')).toBe('abc');
    expect(referenceId('urn:uuid:0f8e')).toBe('0f8e');
    expect(fhirTimeMs('2025-03')).toBe(T('2025-03-01T00:00:00Z'));
    expect(fhirTimeMs('2025-03-02T10:00:00+02:00')).toBe(T('2025-03-02T08:00:00Z'));
    expect(fhirTimeMs('March')).toBeUndefined();
  });
});

describe('consent table rows (OMOP sites)', () => {
  it('person_id, purpose (or *), decision, start, end', () => {
    const rows = [
      parseConsentRow({ person_id: '7', purpose: 'HRESCH', decision: 'deny', start: '2025-01-01', end: '' }, 'consent.csv:2'),
      parseConsentRow({ person_id: '8', purpose: '*', decision: 'deny', start: '', end: '2025-06-30' }, 'consent.csv:3'),
      parseConsentRow({ person_id: '9', purpose: 'HRESCH', decision: 'permit', start: '', end: '' }, 'consent.csv:4'),
    ].map((r) => (r.ok ? r.consent : undefined)).filter((c): c is PatientConsent => c !== undefined);
    expect(rows).toHaveLength(3);
    expect([...optedOutPersons(rows, 'HRESCH', T('2025-03-01'))].sort()).toEqual(['7', '8']);
    expect([...optedOutPersons(rows, 'HRESCH', T('2025-09-01'))]).toEqual(['7']);
    expect([...optedOutPersons(rows, 'PUBHLTH', T('2025-03-01'))]).toEqual(['8']);
    expect(parseConsentRow({ person_id: '7', purpose: 'HRESCH', decision: 'no', start: '', end: '' }, 'consent.csv:9')).toEqual({ ok: false, problem: 'consent.csv:9: decision must be permit or deny' });
    expect(() => optedOutPersons(rows, 'research', 0)).toThrow(/PurposeOfUse/);
  });
});
