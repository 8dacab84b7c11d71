import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectFormats } from './formats.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const SHARED = path.resolve(repoRoot, '../shared/data');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmesh-formats-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string): Promise<string> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

describe('detectFormats', () => {
  it('sorts a mixed data folder into OMOP, FHIR bundles, FHIR NDJSON and tabular files', async () => {
    const person = await write('cdm/PERSON.csv', 'PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH,RACE_CONCEPT_ID,ETHNICITY_CONCEPT_ID\n1,8507,1970,0,0\n');
    const op = await write('cdm/observation_period.csv', 'observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n');
    const visits = await write('cdm/visits_export.csv', 'visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_end_date,visit_type_concept_id,admitting_source_concept_id\n');
    const cost = await write('cdm/cost.csv', 'cost_id,cost_event_id\n');
    const lonelyConcept = await write('vocab/concept.csv', 'concept_id,concept_name\n');
    const labs = await write('labs.csv', 'sample,value\na,1\n');
    const bundle = await write('fhir/b.json', '{"resourceType": "Bundle", "type": "collection", "entry": []}');
    await write('manifest.json', '{"products": []}');
    const nd = await write('bulk/Patient.000.ndjson', '{"resourceType":"Patient","id":"1"}\n');
    await write('notes.ndjson', '{"a":1}\n');
    await write('.hidden/person.csv', 'person_id\n');
    await write('README.txt', 'hello');

    const formats = await detectFormats(dir);
    expect(formats).toEqual([
      { kind: 'omop', files: [person, op, visits].sort(), version: '5.3', tables: { [person]: 'person', [op]: 'observation_period', [visits]: 'visit_occurrence' } },
      { kind: 'fhir-bundle', files: [bundle] },
      { kind: 'fhir-ndjson', files: [nd] },
      { kind: 'tabular', files: [cost, labs, lonelyConcept].sort() },
    ]);
  });

  it('returns nothing for an empty folder', async () => {
    expect(await detectFormats(dir)).toEqual([]);
  });
});

const GIBLEED = path.join(SHARED, 'omop/gibleed');
const hasGibleed = existsSync(GIBLEED);
if (!hasGibleed) console.warn(`[skip] detectFormats on GiBleed: ${GIBLEED} is absent`);

describe.skipIf(!hasGibleed)('detectFormats on Eunomia GiBleed (../shared/data)', () => {
  it('recognises the CDM v5.3 tables and leaves the undescribed ones tabular', async () => {
    const formats = await detectFormats(GIBLEED);
    const omop = formats.find((f) => f.kind === 'omop');
    expect(omop).toMatchObject({ version: '5.3' });
    expect(omop?.files).toHaveLength(28);
    expect(omop?.files.map((f) => path.basename(f))).toContain('concept_ancestor.csv');
    const tabular = formats.find((f) => f.kind === 'tabular')?.files.map((f) => path.basename(f));
    expect(tabular).toEqual(expect.arrayContaining(['cost.csv', 'note.csv', 'specimen.csv']));
  });
});
