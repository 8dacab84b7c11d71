import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../../common/errors.js';
import { detectFormats } from '../formats.js';
import { ingestFhir } from './ingest-fhir.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const FHIR = path.resolve(repoRoot, '../shared/data/fhir');

let dir: string;
let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmesh-fhir-test-'));
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
});
afterEach(async () => {
  conn.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';

function bundle(): object {
  const entry = (uuid: string, resource: object): object => ({ fullUrl: `urn:uuid:${uuid}`, resource, request: { method: 'POST' } });
  return {
    resourceType: 'Bundle', type: 'transaction', entry: [
      entry('p-1', { resourceType: 'Patient', id: 'p-1', gender: 'female', birthDate: '1980-04-02', name: [{ family: 'Secret' }] }),
      // No id: taken from the fullUrl.
      entry('e-1', { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'EMER' },
        subject: { reference: 'urn:uuid:p-1' }, period: { start: '2020-01-05T10:00:00+02:00', end: '2020-01-06T08:00:00+02:00' } }),
      entry('c-1', { resourceType: 'Condition', id: 'c-1', code: { coding: [{ system: SNOMED, code: '74474003', display: 'GI bleed' }] },
        subject: { reference: 'urn:uuid:p-1' }, encounter: { reference: 'urn:uuid:e-1' }, onsetDateTime: '2020-01-05' }),
      entry('o-1', { resourceType: 'Observation', id: 'o-1', status: 'final', code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }] },
        subject: { reference: 'urn:uuid:p-1' }, encounter: { reference: 'urn:uuid:e-1' }, effectiveDateTime: '2020-01-05T11:00:00Z',
        valueQuantity: { value: 7.9, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' } }),
      entry('o-2', { resourceType: 'Observation', id: 'o-2', status: 'final', code: { coding: [{ system: LOINC, code: '72166-2' }] },
        subject: { reference: 'urn:uuid:p-1' }, effectiveDateTime: '2019-12',
        valueCodeableConcept: { coding: [{ system: SNOMED, code: '8517006', display: 'Ex-smoker' }] } }),
      entry('o-3', { resourceType: 'Observation', id: 'o-3', status: 'final', code: { coding: [{ system: LOINC, code: '85354-9' }] },
        subject: { reference: 'urn:uuid:p-1' }, effectiveDateTime: '2020-01-05T11:00:00Z', component: [
          { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mm[Hg]' } },
          { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mm[Hg]' } }] }),
      entry('m-1', { resourceType: 'MedicationRequest', id: 'm-1', status: 'active', intent: 'order', subject: { reference: 'urn:uuid:p-1' },
        medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '310965', display: 'Ibuprofen' }] },
        authoredOn: '2020-01-06', dispenseRequest: { expectedSupplyDuration: { value: 10, unit: 'days', code: 'd' } } }),
      entry('x-1', { resourceType: 'Claim', id: 'x-1', patient: { reference: 'urn:uuid:p-1' } }),
    ],
  };
}

const NDJSON_PATIENT = JSON.stringify({ resourceType: 'Patient', id: 'p-2', gender: 'male', birthDate: '1950' });
const NDJSON_PROC = JSON.stringify({ resourceType: 'Procedure', id: 'pr-1', status: 'completed', subject: { reference: 'Patient/p-2' },
  code: { coding: [{ system: SNOMED, code: '73761001', display: 'Colonoscopy' }] },
  performedPeriod: { start: '2021-03-01T09:00:00Z', end: '2021-03-01T10:00:00Z' } });

async function fixtures(): Promise<{ bundles: string[]; ndjson: string[] }> {
  const b = path.join(dir, 'bundle.json');
  await writeFile(b, JSON.stringify(bundle(), null, 2));
  const n = path.join(dir, 'Patient.ndjson');
  await writeFile(n, `${NDJSON_PATIENT}\n${NDJSON_PROC}\n`);
  return { bundles: [b], ndjson: [n] };
}

async function catchError(p: Promise<unknown>): Promise<FedmeshError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FedmeshError) return e;
    throw e;
  }
  throw new Error('expected the ingest to fail');
}

describe('ingestFhir on generated data', () => {
  it('flattens resources with codes, values, units, dates and references', async () => {
    const { bundles, ndjson } = await fixtures();
    const report = await ingestFhir(conn, bundles, ndjson);
    expect(report.rows).toMatchObject({
      fhir_patient: 2, fhir_encounter: 1, fhir_condition: 1, fhir_observation: 3, fhir_observation_component: 2,
      fhir_medication_request: 1, fhir_procedure: 1,
    });
    expect(report.issues.some((i) => i.message.includes('Claim 1'))).toBe(true);
    const cols = await rows(`SELECT column_name FROM information_schema.columns WHERE table_name = 'fhir_patient'`);
    expect(cols.map((c) => c['column_name'])).not.toContain('name');

    const enc = await rows(`SELECT id, patient_id, class_code, CAST(period_start AS VARCHAR) AS s FROM fhir_encounter`);
    expect(enc).toEqual([{ id: 'e-1', patient_id: 'p-1', class_code: 'EMER', s: '2020-01-05 10:00:00' }]);
    const obs = await rows(`SELECT id, encounter_id, code_system, code, value_type, value_number, value_unit, value_code, value_code_display,
      CAST(effective_datetime AS VARCHAR) AS t FROM fhir_observation ORDER BY id`);
    expect(obs[0]).toEqual({ id: 'o-1', encounter_id: 'e-1', code_system: LOINC, code: '718-7', value_type: 'Quantity', value_number: 7.9,
      value_unit: 'g/dL', value_code: null, value_code_display: null, t: '2020-01-05 11:00:00' });
    expect(obs[1]).toMatchObject({ id: 'o-2', value_type: 'CodeableConcept', value_code: '8517006', value_code_display: 'Ex-smoker', t: '2019-12-01 00:00:00' });
    const comp = await rows(`SELECT observation_id, component_index, code, value_number FROM fhir_observation_component ORDER BY component_index`);
    expect(comp).toEqual([
      { observation_id: 'o-3', component_index: 0, code: '8480-6', value_number: 120 },
      { observation_id: 'o-3', component_index: 1, code: '8462-4', value_number: 80 },
    ]);
    const proc = await rows(`SELECT patient_id, code_system, code, code_display FROM fhir_procedure`);
    expect(proc).toEqual([{ patient_id: 'p-2', code_system: SNOMED, code: '73761001', code_display: 'Colonoscopy' }]);
  });

  it('maps into OMOP-shaped tables with stable person ids and built-in gender and visit concepts', async () => {
    const { bundles, ndjson } = await fixtures();
    const report = await ingestFhir(conn, bundles, ndjson);
    expect(report.rows).toMatchObject({ person: 2, visit_occurrence: 1, condition_occurrence: 1, drug_exposure: 1, measurement: 5, procedure_occurrence: 1, observation_period: 2 });
    expect(report.conceptMapping).toMatchObject({ person: 'mapped', visit_occurrence: 'mapped', condition_occurrence: 'source-only', measurement: 'source-only' });
    const people = await rows(`SELECT person_id, person_source_value, gender_concept_id, year_of_birth FROM person ORDER BY person_source_value`);
    expect(people.map((p) => [p['person_source_value'], p['gender_concept_id'], p['year_of_birth']])).toEqual([['p-1', 8532n, 1980n], ['p-2', 8507n, 1950n]]);
    const visit = await rows(`SELECT v.visit_concept_id, CAST(v.visit_start_date AS VARCHAR) AS d, c.visit_occurrence_id = v.visit_occurrence_id AS linked
      FROM visit_occurrence v JOIN condition_occurrence c USING (person_id)`);
    expect(visit).toEqual([{ visit_concept_id: 9203n, d: '2020-01-05', linked: true }]);
    const cond = await rows(`SELECT condition_concept_id, condition_source_value FROM condition_occurrence`);
    expect(cond).toEqual([{ condition_concept_id: 0n, condition_source_value: '74474003' }]);
    const drug = await rows(`SELECT CAST(drug_exposure_start_date AS VARCHAR) AS s, CAST(drug_exposure_end_date AS VARCHAR) AS e, days_supply FROM drug_exposure`);
    expect(drug).toEqual([{ s: '2020-01-06', e: '2020-01-15', days_supply: 10n }]);
    const op = await rows(`SELECT CAST(observation_period_start_date AS VARCHAR) AS s, CAST(observation_period_end_date AS VARCHAR) AS e
      FROM observation_period o JOIN person p USING (person_id) WHERE person_source_value = 'p-1'`);
    expect(op).toEqual([{ s: '2019-12-01', e: '2020-01-15' }]);

    // Stable ids: a second ingest into a fresh database gives the same person_id.
    const other = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      await ingestFhir(other, bundles, ndjson);
      const again = (await other.runAndReadAll(`SELECT person_id, person_source_value FROM person ORDER BY person_source_value`)).getRowObjectsJS();
      expect(again).toEqual(people.map((p) => ({ person_id: p['person_id'], person_source_value: p['person_source_value'] })));
    } finally {
      other.closeSync();
    }
  });

  it('fills concept ids from a concept table already in the database', async () => {
    await conn.run(`CREATE TABLE concept AS SELECT * FROM (VALUES
      (192671, 'GI hemorrhage', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '74474003'),
      (3000963, 'Hemoglobin', 'Measurement', 'LOINC', 'Lab Test', 'S', '718-7'),
      (999, 'non-standard', 'Drug', 'RxNorm', 'Clinical Drug', NULL, '310965')
    ) t(concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code)`);
    await conn.run(`CREATE TABLE concept_relationship AS SELECT 999 AS concept_id_1, 1177480 AS concept_id_2, 'Maps to' AS relationship_id, NULL AS invalid_reason`);
    const { bundles, ndjson } = await fixtures();
    const report = await ingestFhir(conn, bundles, ndjson);
    expect(report.conceptMapping).toMatchObject({ condition_occurrence: 'mapped', drug_exposure: 'mapped', measurement: 'partial', procedure_occurrence: 'source-only' });
    expect(await rows('SELECT condition_concept_id, condition_source_concept_id FROM condition_occurrence')).toEqual([{ condition_concept_id: 192671n, condition_source_concept_id: 192671n }]);
    expect(await rows('SELECT drug_concept_id, drug_source_concept_id FROM drug_exposure')).toEqual([{ drug_concept_id: 1177480n, drug_source_concept_id: 999n }]);
  });

  it('names the file and line of malformed NDJSON and leaves earlier tables untouched', async () => {
    const { bundles, ndjson } = await fixtures();
    await ingestFhir(conn, bundles, ndjson);
    const snapshot = async (): Promise<unknown[]> => rows(`SELECT 'p' AS t, count(*) AS n, string_agg(id, ',' ORDER BY id) AS ids FROM fhir_patient
      UNION ALL SELECT 'person', count(*), string_agg(person_source_value, ',' ORDER BY person_source_value) FROM person ORDER BY t`);
    const before = await snapshot();

    const broken = path.join(dir, 'Broken.ndjson');
    await writeFile(broken, `${JSON.stringify({ resourceType: 'Patient', id: 'p-9' })}\n\n{"resourceType": "Patient", "id": \n${NDJSON_PATIENT}\n[1,2]\n`);
    const err = await catchError(ingestFhir(conn, bundles, [...ndjson, broken]));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details['issues']).toEqual([
      { file: broken, line: 3, message: 'malformed JSON' },
      { file: broken, line: 5, message: 'not a JSON object' },
    ]);
    expect(err.message).toContain(`${broken}:3`);
    expect(await snapshot()).toEqual(before);
    expect(await rows(`SELECT table_name FROM duckdb_tables() WHERE temporary`)).toEqual([]);
  });

  it('names the line of a malformed bundle and a JSON file that is not FHIR', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{\n  "resourceType": "Bundle",\n  "entry": [\n    { "resource": { "resourceType": "Patient", "id": "a" } }\n    { "resource": {} }\n  ]\n}\n');
    const notFhir = path.join(dir, 'manifest.json');
    await writeFile(notFhir, '{"products": []}');
    const err = await catchError(ingestFhir(conn, [bad, notFhir], []));
    const issues = err.details['issues'] as Array<{ file: string; line?: number; message: string }>;
    expect(issues).toEqual([
      { file: bad, line: 5, message: 'malformed JSON' },
      { file: notFhir, line: 1, message: 'not a FHIR resource (no resourceType)' },
    ]);
    expect(await rows(`SELECT table_name FROM duckdb_tables()`)).toEqual([]);
  });

  it('re-ingests idempotently', async () => {
    const { bundles, ndjson } = await fixtures();
    const a = await ingestFhir(conn, bundles, ndjson);
    const b = await ingestFhir(conn, bundles, ndjson);
    expect(b.rows).toEqual(a.rows);
    expect(await rows('SELECT count(*) - count(DISTINCT measurement_id) AS d FROM measurement')).toEqual([{ d: 0n }]);
  });

  it('a skipped resourceType that FHIR R4 does not define is counted, never quoted (the warning is published)', async () => {
    const { bundles } = await fixtures();
    const typed = path.join(dir, 'typed.ndjson');
    const secret = 'Jane Doe MRN 4700';
    await writeFile(typed, `${JSON.stringify({ resourceType: secret, id: 'z-1' })}\n${NDJSON_PATIENT}\n`);
    const report = await ingestFhir(conn, bundles, [typed]);
    const skippedLine = report.issues.map((i) => i.message).find((m) => /skipped \d+ resources/.test(m));
    // Negative control in the same line: a type FHIR R4 defines (the bundle's Claim) is still named.
    expect(skippedLine).toMatch(/Claim 1/);
    expect(skippedLine).toMatch(/\(not a FHIR R4 type\) 1/);
    expect(report.issues.map((i) => i.message).join('\n')).not.toContain('Jane');
  });

  it('can leave out the OMOP mapping', async () => {
    const { bundles, ndjson } = await fixtures();
    const report = await ingestFhir(conn, bundles, ndjson, { mapToOmop: false });
    expect(report.products).not.toContain('person');
    expect(await rows(`SELECT table_name FROM duckdb_tables() WHERE table_name = 'person'`)).toEqual([]);
  });
});

const hasFhir = existsSync(FHIR);
if (!hasFhir) console.warn(`[skip] FHIR real-data ingest: ${FHIR} is absent`);

describe.skipIf(!hasFhir)('ingestFhir on public FHIR data (../shared/data/fhir)', () => {
  it('loads the Synthea bundles with the published counts', async () => {
    const formats = await detectFormats(path.join(FHIR, 'synthea-bundles'));
    const bundles = formats.find((f) => f.kind === 'fhir-bundle')?.files ?? [];
    expect(bundles).toHaveLength(40);
    const report = await ingestFhir(conn, bundles, []);
    expect(report.rows).toMatchObject({
      fhir_patient: 40, fhir_encounter: 926, fhir_observation: 4741, fhir_condition: 259,
      person: 40, visit_occurrence: 926, condition_occurrence: 259, observation_period: 40,
    });
    const refs = await rows(`SELECT count(*) FILTER (WHERE patient_id NOT IN (SELECT id FROM fhir_patient)) AS orphans,
      count(*) FILTER (WHERE value_type = 'Quantity' AND value_unit IS NULL) AS no_unit FROM fhir_observation`);
    expect(refs).toEqual([{ orphans: 0n, no_unit: 0n }]);
  });

  it('loads the Bulk Data NDJSON export', async () => {
    const formats = await detectFormats(path.join(FHIR, 'bulk-ndjson'));
    const ndjson = formats.find((f) => f.kind === 'fhir-ndjson')?.files ?? [];
    const report = await ingestFhir(conn, [], ndjson);
    expect(report.rows).toMatchObject({
      fhir_patient: 13, fhir_encounter: 1215, fhir_condition: 555, fhir_medication_request: 1745, fhir_procedure: 2056,
      fhir_observation: 0, person: 13, visit_occurrence: 1215,
    });
    expect(await rows(`SELECT count(*) AS n FROM fhir_encounter WHERE patient_id IS NULL OR period_start IS NULL`)).toEqual([{ n: 0n }]);
  });

  it('loads the HL7 R4 examples, skipping other resource types cleanly', async () => {
    const formats = await detectFormats(path.join(FHIR, 'r4-examples'));
    const bundles = formats.find((f) => f.kind === 'fhir-bundle')?.files ?? [];
    expect(bundles.some((f) => f.endsWith('package.json'))).toBe(false);
    const report = await ingestFhir(conn, bundles, []);
    for (const t of ['fhir_patient', 'fhir_encounter', 'fhir_condition', 'fhir_observation', 'fhir_medication_request', 'fhir_procedure']) {
      expect(report.rows[t], t).toBeGreaterThan(0);
    }
    expect(report.issues.some((i) => /skipped \d+ resources/.test(i.message) && i.message.includes('NamingSystem'))).toBe(true);
    // Observation-example.json is a body-weight observation of Patient/example.
    const ex = await rows(`SELECT patient_id, code, value_number, value_unit FROM fhir_observation WHERE id = 'example'`);
    expect(ex).toEqual([{ patient_id: 'example', code: '29463-7', value_number: 185, value_unit: 'lbs' }]);
  });
});
