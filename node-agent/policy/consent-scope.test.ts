/**
 * The consent-filtered scope in DuckDB: a person who opted out of the purpose influences no result for it — every
 * statistic through the scope equals the same statistic over the data without that person — while other purposes
 * and persons without a record are untouched. Negative control: without the consent record the person counts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFhirConsent, type PatientConsent } from './consent.js';
import { loadConsents } from './consent-load.js';
import { consentScopedRelation, writeConsentScope } from './consent-scope.js';

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let dir: string;
const NOW = Date.parse('2026-06-01');

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  // 40 persons; person 13 has extreme values, so leaving them out visibly moves every statistic.
  await conn.run(`CREATE TABLE person AS SELECT i AS person_id, CASE WHEN i = 13 THEN 1901 ELSE 1950 + i % 30 END AS year_of_birth, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id FROM range(1, 41) t(i)`);
  await conn.run(`CREATE TABLE measurement AS SELECT (i % 40) + 1 AS person_id, CASE WHEN (i % 40) + 1 = 13 THEN 500.0 ELSE 100.0 + i % 7 END AS value_as_number FROM range(0, 400) t(i)`);
  dir = mkdtempSync(join(tmpdir(), 'fedmesh-consent-'));
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

const optOut13: PatientConsent = (() => {
  const r = parseFhirConsent({ resourceType: 'Consent', status: 'active', scope: { coding: [{ code: 'research' }] }, patient: { reference: 'Patient/13' }, provision: { type: 'deny', purpose: [{ code: 'HRESCH' }] } }, 't');
  if (!r.ok || !('consent' in r)) throw new Error('fixture');
  return r.consent;
})();

/** Count, sum, mean, grouped count and a per-person join over `from(table)`. */
async function stats(from: (table: string) => string): Promise<unknown[]> {
  const q = async (sql: string): Promise<unknown> => (await conn.runAndReadAll(sql)).getRowObjectsJS();
  return [
    await q(`SELECT count(*)::INTEGER AS n, sum(year_of_birth)::INTEGER AS s, avg(year_of_birth) AS m FROM ${from('person')}`),
    await q(`SELECT gender_concept_id, count(*)::INTEGER AS n FROM ${from('person')} GROUP BY 1 ORDER BY 1`),
    await q(`SELECT count(DISTINCT p.person_id)::INTEGER AS persons, avg(m.value_as_number) AS v FROM ${from('person')} p JOIN ${from('measurement')} m USING (person_id)`),
  ];
}

describe('consent-filtered data scope', () => {
  it('an opted-out person influences no result for that purpose: equal to the data without them', async () => {
    expect(await writeConsentScope(conn, [optOut13], 'HRESCH', NOW)).toBe(1);
    const scoped = await stats((t) => consentScopedRelation(t, 'person_id'));
    const without = await stats((t) => `(SELECT * FROM ${t} WHERE person_id <> 13)`);
    expect(scoped).toEqual(without);
  });

  it('negative control: for another purpose, or without the record, the person counts and the results differ', async () => {
    const all = await stats((t) => t);
    const without = await stats((t) => `(SELECT * FROM ${t} WHERE person_id <> 13)`);
    expect(all).not.toEqual(without);
    expect(await writeConsentScope(conn, [optOut13], 'PUBHLTH', NOW)).toBe(0);
    expect(await stats((t) => consentScopedRelation(t, 'person_id'))).toEqual(all);
    expect(await writeConsentScope(conn, [], 'HRESCH', NOW)).toBe(0);
    expect(await stats((t) => consentScopedRelation(t, 'person_id'))).toEqual(all);
  });

  it('loads FHIR NDJSON, Bundles and the consent table from a folder, and refuses a malformed record naming file and line', async () => {
    const consent = (patient: string, type: string, extra: Record<string, unknown> = {}) => ({ resourceType: 'Consent', status: 'active', scope: { coding: [{ code: 'research' }] }, patient: { reference: `Patient/${patient}` }, provision: { type, purpose: [{ code: 'HRESCH' }] }, ...extra });
    writeFileSync(join(dir, 'Consent.ndjson'), `${JSON.stringify(consent('13', 'deny'))}\n${JSON.stringify(consent('14', 'deny', { status: 'inactive' }))}\n`);
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify({ resourceType: 'Bundle', entry: [{ resource: consent('15', 'deny') }, { resource: { resourceType: 'Patient', id: '15' } }] }));
    writeFileSync(join(dir, 'consent.csv'), 'person_id,purpose,decision,start,end\n16,HRESCH,deny,2025-01-01,\n17,*,permit,,\n');
    const loaded = await loadConsents(dir, conn);
    expect(loaded.files).toEqual(['Consent.ndjson', 'bundle.json', 'consent.csv']);
    expect(loaded.skipped).toEqual({ 'status inactive': 1 });
    expect(await writeConsentScope(conn, loaded.consents, 'HRESCH', NOW)).toBe(3);
    const n = (await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${consentScopedRelation('person', 'person_id')}`)).getRowObjectsJS()[0]!.n;
    expect(n).toBe(37);
    writeFileSync(join(dir, 'Consent.ndjson'), `${JSON.stringify(consent('13', 'deny'))}\n{"resourceType":"Consent","status":"active","scope":{"coding":[{"code":"research"}]},"patient":{"reference":"Patient/1"},"provision":{"type":"maybe"}}\n`);
    await expect(loadConsents(dir, conn)).rejects.toThrow('consent records cannot be applied: Consent.ndjson:2: provision.type must be permit or deny');
  });
});

describe('FHIR Patient id → OMOP person_id', () => {
  it("a FHIR Consent's Patient id also leaves out that patient's person_id in the OMOP tables built from FHIR", async () => {
    const { createHash } = await import('node:crypto');
    const { applyConsentScope } = await import('./consent-scope.js');
    // The ingest's mapping, computed here independently: the first 13 hex digits of MD5(id) as an integer.
    const personId = (id: string): bigint => BigInt(`0x${createHash('md5').update(id).digest('hex').slice(0, 13)}`);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      const ids = ['pat-a', 'pat-b', 'pat-c', 'pat-d'];
      await c.run(`CREATE TABLE fhir_patient AS SELECT unnest([${ids.map((i) => `'${i}'`).join(', ')}]) AS id`);
      await c.run(`CREATE TABLE person AS SELECT unnest([${ids.map((i) => personId(i).toString()).join(', ')}]::BIGINT[]) AS person_id`);
      const consent = parseFhirConsent({ resourceType: 'Consent', status: 'active', scope: { coding: [{ code: 'research' }] }, patient: { reference: 'Patient/pat-b' }, provision: { type: 'deny', purpose: [{ code: 'HRESCH' }] } }, 't');
      if (!consent.ok || !('consent' in consent)) throw new Error('fixture');
      const products = [{ name: 'person', privacyUnit: 'person_id' }, { name: 'fhir_patient', privacyUnit: 'id' }];
      await applyConsentScope(c, { consents: [consent.consent], purpose: 'HRESCH', atMs: NOW, products });
      const persons = (await c.runAndReadAll('SELECT person_id FROM person ORDER BY 1')).getRowObjectsJS().map((r) => BigInt(r.person_id as bigint));
      expect(persons).toEqual(['pat-a', 'pat-c', 'pat-d'].map(personId).sort((x, y) => (x < y ? -1 : 1)));
      const patients = (await c.runAndReadAll('SELECT id FROM fhir_patient ORDER BY 1')).getRowObjectsJS().map((r) => r.id);
      expect(patients).toEqual(['pat-a', 'pat-c', 'pat-d']);
      // Negative control: for another purpose nobody is left out of either table.
      const other = await db.connect();
      await applyConsentScope(other, { consents: [consent.consent], purpose: 'PUBHLTH', atMs: NOW, products });
      expect(Number((await other.runAndReadAll('SELECT count(*) AS n FROM person')).getRowObjectsJS()[0]!.n)).toBe(4);
      other.closeSync();
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
});

describe('rows without a privacy unit', () => {
  it('the scope every kind reads leaves them out, with nobody opted out; a product without a unit keeps its rows (control)', async () => {
    const { applyConsentScope } = await import('./consent-scope.js');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      // A NULL-unit row is in no consent record, under no contribution bound and in no guarded person set.
      await c.run('CREATE TABLE visits AS SELECT * FROM (VALUES (1, 10.0), (2, 20.0), (NULL, 99.0)) v(pid, x)');
      await c.run('CREATE TABLE reference AS SELECT * FROM (VALUES (1, 10.0), (NULL, 99.0)) r(pid, x)');
      await applyConsentScope(c, { consents: [], purpose: 'HRESCH', atMs: NOW, products: [{ name: 'visits', privacyUnit: 'pid' }, { name: 'reference', privacyUnit: undefined }] });
      const read = async (t: string): Promise<unknown> => (await c.runAndReadAll(`SELECT count(*)::INTEGER AS n, sum(x)::DOUBLE AS s FROM ${t}`)).getRowObjectsJS()[0];
      expect(await read('visits')).toEqual({ n: 2, s: 30 });
      expect(await read('reference')).toEqual({ n: 2, s: 109 });
      // The same rule in the relation form.
      await writeConsentScope(c, [], 'HRESCH', NOW);
      expect((await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${consentScopedRelation('visits', 'pid')}`)).getRowObjectsJS()[0]!.n).toBe(2);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
});
