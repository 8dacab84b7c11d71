import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestFhir } from '../fhir/ingest-fhir.js';
import { createTableSql } from '../omop/ingest-omop.js';
import { listProducts } from '../products.js';
import { describeProducts } from './defaults.js';
import { parseManifest } from './manifest.js';
import { semanticTypeFits } from './semantic-types.js';
import type { ProductDescription, ProductSchema } from './types.js';

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let schema: ProductSchema[];
let dir: string;

const OMOP = ['person', 'observation_period', 'drug_exposure', 'measurement', 'death', 'concept', 'concept_ancestor', 'location'];

/** One tiny bundle, enough for the FHIR ingest to create every flat table with its real columns. */
function bundle(): object {
  const ref = { reference: 'Patient/p-1' };
  return { resourceType: 'Bundle', type: 'collection', entry: [
    { resource: { resourceType: 'Patient', id: 'p-1', gender: 'female', birthDate: '1980-04-02' } },
    { resource: { resourceType: 'Encounter', id: 'e-1', status: 'finished', subject: ref, period: { start: '2020-01-05' } } },
    { resource: { resourceType: 'Condition', id: 'c-1', subject: ref, code: { coding: [{ system: 'http://snomed.info/sct', code: '1' }] }, onsetDateTime: '2020-01-05' } },
    { resource: { resourceType: 'Observation', id: 'o-1', status: 'final', subject: ref, code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
      effectiveDateTime: '2020-01-05', valueQuantity: { value: 7.9, unit: 'g/dL' } } },
    { resource: { resourceType: 'MedicationRequest', id: 'm-1', status: 'active', intent: 'order', subject: ref, authoredOn: '2020-01-06',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '310965' }] } } },
    { resource: { resourceType: 'Procedure', id: 'x-1', status: 'completed', subject: ref, code: { coding: [{ system: 'http://snomed.info/sct', code: '2' }] },
      performedDateTime: '2020-01-05' } },
  ] };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmesh-catalog-defaults-'));
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  for (const t of OMOP) await conn.run(createTableSql(t, '5.4'));
  const file = path.join(dir, 'b.json');
  await writeFile(file, JSON.stringify(bundle()));
  await ingestFhir(conn, [file], [], { mapToOmop: false });
  await conn.run('CREATE TABLE lab_results (patient_id VARCHAR, value DOUBLE, taken DATE, note VARCHAR)');
  await conn.run('CREATE TABLE site_stats (ward VARCHAR, beds INTEGER)');
  schema = await listProducts(conn);
});
afterAll(async () => {
  conn.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
});

function byName(list: ProductDescription[], name: string): ProductDescription {
  const p = list.find((d) => d.name === name);
  if (p === undefined) throw new Error(`no product ${name}`);
  return p;
}
const semantic = (p: ProductDescription): Record<string, string> => Object.fromEntries(p.columns.map((c) => [c.name, c.semanticType]));

describe('describeProducts defaults', () => {
  it('describes OMOP clinical tables: person_id as privacy unit, sensitive, default bounds, semantic types', () => {
    const all = describeProducts(schema);
    const person = byName(all, 'person');
    expect(person).toMatchObject({
      profile: 'omop', privacyUnit: 'person_id', sensitivity: 'sensitive', owner: 'unknown',
      bounds: { year_of_birth: [1900, 2030], month_of_birth: [1, 12], day_of_birth: [1, 31] },
      allowedJobKinds: ['aggregate', 'cohort', 'characterization', 'survival', 'contingency'],
    });
    expect(person.allowedPrivacyModes).toBeUndefined();
    expect(semantic(person)).toMatchObject({
      person_id: 'identifier', gender_concept_id: 'concept_id', year_of_birth: 'quantity', birth_datetime: 'datetime',
      location_id: 'reference', person_source_value: 'identifier', gender_source_concept_id: 'concept_id',
    });
    const drugs = byName(all, 'drug_exposure');
    expect(drugs.bounds).toEqual({ days_supply: [0, 365], quantity: [0, 1000], refills: [0, 20] });
    expect(semantic(drugs)).toMatchObject({
      drug_exposure_id: 'identifier', person_id: 'identifier', visit_occurrence_id: 'reference',
      drug_exposure_start_date: 'date', sig: 'text', drug_source_value: 'code',
    });
    // Measured values stay unbounded unless declared.
    expect(byName(all, 'measurement').bounds).toEqual({});
    expect(byName(all, 'death')).toMatchObject({ privacyUnit: 'person_id', sensitivity: 'sensitive' });
  });

  it('marks vocabulary tables public with no privacy unit, and health-system tables protected', () => {
    const all = describeProducts(schema);
    for (const name of ['concept', 'concept_ancestor']) {
      expect(byName(all, name)).toMatchObject({ profile: 'omop-vocabulary', sensitivity: 'public', privacyUnit: undefined, allowedJobKinds: ['aggregate'] });
    }
    expect(semantic(byName(all, 'concept'))).toMatchObject({ concept_id: 'identifier', concept_name: 'text', domain_id: 'category', concept_code: 'code' });
    expect(byName(all, 'location')).toMatchObject({ profile: 'omop-system', sensitivity: 'restricted', privacyUnit: undefined });
  });

  it('uses the real FHIR column names: Patient.id and patient_id as privacy units', () => {
    const all = describeProducts(schema);
    const fhir = all.filter((p) => p.profile === 'fhir').map((p) => p.name).sort();
    expect(fhir).toEqual(['fhir_condition', 'fhir_encounter', 'fhir_medication_request', 'fhir_observation',
      'fhir_observation_component', 'fhir_patient', 'fhir_procedure']);
    expect(byName(all, 'fhir_patient').privacyUnit).toBe('id');
    for (const name of fhir.filter((n) => n !== 'fhir_patient')) {
      const p = byName(all, name);
      expect(p.privacyUnit, name).toBe('patient_id');
      expect(p.columns.some((c) => c.name === 'patient_id'), name).toBe(true);
      expect(p.sensitivity).toBe('sensitive');
    }
    expect(semantic(byName(all, 'fhir_observation'))).toMatchObject({
      id: 'identifier', patient_id: 'identifier', encounter_id: 'reference', code_system: 'category', code: 'code',
      code_display: 'text', effective_datetime: 'datetime', value_number: 'quantity', codings: 'structured', status: 'category',
    });
    expect(semantic(byName(all, 'fhir_patient'))).toMatchObject({ birth_date: 'date', deceased: 'boolean', gender: 'category' });
    expect(byName(all, 'fhir_medication_request').bounds).toEqual({ quantity: [0, 1000], supply_days: [0, 365], refills: [0, 20] });
  });

  it('gives plain tables a recognised privacy unit, else restricted with none', () => {
    const all = describeProducts(schema, undefined, { sourceDescriptions: { lab_results: 'ingested from labs.csv' } });
    expect(byName(all, 'lab_results')).toMatchObject({
      profile: 'tabular', privacyUnit: 'patient_id', sensitivity: 'sensitive', description: 'ingested from labs.csv', bounds: {},
    });
    expect(byName(all, 'site_stats')).toMatchObject({ profile: 'tabular', privacyUnit: undefined, sensitivity: 'restricted' });
  });

  it('every inferred semantic type fits its storage type', () => {
    for (const p of describeProducts(schema)) {
      for (const c of p.columns) expect(semanticTypeFits(c.semanticType, c.type), `${p.name}.${c.name}`).toBeUndefined();
    }
  });

  it('publishes the ingest\'s concept-mapping state on the table\'s main concept column', () => {
    const all = describeProducts(schema, undefined, { conceptMapping: { person: 'source-only', drug_exposure: 'partial', nowhere: 'mapped' } });
    expect(byName(all, 'person').conceptMapping).toEqual({ gender_concept_id: 'source-only' });
    expect(byName(all, 'drug_exposure').conceptMapping).toEqual({ drug_concept_id: 'partial' });
    expect(byName(all, 'measurement').conceptMapping).toBeUndefined();
  });
});

describe('describeProducts with a manifest', () => {
  it('lets the manifest override defaults field by field, merging bounds per column', () => {
    const { manifest, issues } = parseManifest(JSON.stringify({
      owner: 'gastro',
      products: {
        person: { description: 'Our patients', bounds: { year_of_birth: [1920, 2024] }, allowedJobKinds: ['aggregate'],
          allowedPrivacyModes: ['distributed-dp'], columns: { person_source_value: { semanticType: 'identifier', description: 'hash' } } },
        measurement: { owner: 'lab', bounds: { value_as_number: [0, 500] }, sensitivity: 'restricted' },
        lab_results: { privacyUnit: null, sensitivity: 'internal', columns: { note: { semanticType: 'category' } } },
      },
    }), schema);
    expect(issues).toEqual([]);
    const all = describeProducts(schema, manifest, { defaultOwner: 'hospital-a' });
    const person = byName(all, 'person');
    expect(person).toMatchObject({
      description: 'Our patients', owner: 'gastro', privacyUnit: 'person_id', sensitivity: 'sensitive',
      bounds: { year_of_birth: [1920, 2024], month_of_birth: [1, 12], day_of_birth: [1, 31] },
      allowedJobKinds: ['aggregate'], allowedPrivacyModes: ['distributed-dp'],
    });
    expect(person.columns.find((c) => c.name === 'person_source_value')).toEqual({
      name: 'person_source_value', type: 'VARCHAR', semanticType: 'identifier', description: 'hash',
    });
    expect(byName(all, 'measurement')).toMatchObject({ owner: 'lab', bounds: { value_as_number: [0, 500] }, sensitivity: 'restricted' });
    const labs = byName(all, 'lab_results');
    expect(labs).toMatchObject({ privacyUnit: undefined, sensitivity: 'internal' });
    expect(semantic(labs)).toMatchObject({ note: 'category', patient_id: 'reference' });
    // Untouched products keep their defaults; the manifest-level owner applies to them.
    expect(byName(all, 'death')).toMatchObject({ owner: 'gastro', sensitivity: 'sensitive', description: expect.stringMatching(/death/) });
    expect(describeProducts(schema, undefined, { defaultOwner: 'hospital-a' })[0]?.owner).toBe('hospital-a');
  });

  it('drops the invalid part of a manifest entry and keeps the defaults for it', () => {
    const { manifest, issues } = parseManifest(JSON.stringify({
      products: { person: { sensitivity: 'top-secret', privacyUnit: 'nobody', bounds: { year_of_birth: [2000, 1900] } } },
    }), schema);
    expect(issues.map((i) => i.field)).toEqual([
      'products.person.privacyUnit', 'products.person.bounds.year_of_birth', 'products.person.sensitivity',
    ]);
    const person = byName(describeProducts(schema, manifest), 'person');
    expect(person).toMatchObject({ privacyUnit: 'person_id', sensitivity: 'sensitive', bounds: { year_of_birth: [1900, 2030] } });
  });

  it('leaves internal tables out and is not fooled by table names shared with Object.prototype', () => {
    const odd: ProductSchema[] = [
      { name: '_fedmesh_ingest', columns: [{ name: 'product', type: 'VARCHAR' }] },
      { name: 'constructor', columns: [{ name: 'x', type: 'INTEGER' }] },
      { name: 'toString', columns: [{ name: 'person_id', type: 'BIGINT' }] },
    ];
    const all = describeProducts(odd);
    expect(all.map((p) => p.name)).toEqual(['constructor', 'toString']);
    expect(all[0]).toMatchObject({ profile: 'tabular', description: 'table', bounds: {}, sensitivity: 'restricted' });
    expect(all[1]).toMatchObject({ profile: 'tabular', privacyUnit: 'person_id', sensitivity: 'sensitive' });
  });
});
