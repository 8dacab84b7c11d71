import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../../common/errors.js';
import { omopTable } from './cdm-spec.js';
import { ingestOmop } from './ingest-omop.js';
import { resolveOmopTable, tableStem } from './table-files.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const SHARED = path.resolve(repoRoot, '../shared/data');
const GIBLEED = path.join(SHARED, 'omop/gibleed');

let dir: string;
let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmesh-omop-test-'));
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

async function write(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** A small valid v5.4 CDM: upper-case person header, a tab-separated Athena-style concept file. */
async function goodCdm(): Promise<string[]> {
  return [
    await write('PERSON.csv', [
      'PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH,RACE_CONCEPT_ID,ETHNICITY_CONCEPT_ID,PERSON_SOURCE_VALUE,FAVOURITE_COLOUR',
      '1,8507,1970,0,0,p1,blue', '2,8532,1985,0,0,p2,red', '3,8532,2001,0,0,"p,3",green',
    ]),
    await write('observation_period.csv', [
      'observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id',
      '1,1,2000-01-01,2020-12-31,32817', '2,2,2005-06-01,2021-01-01,32817', '3,3,2010-01-01,2019-01-01,32817',
    ]),
    await write('condition_occurrence.csv', [
      'condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_start_datetime,condition_type_concept_id,condition_source_value',
      '10,1,192671,2010-03-04,2010-03-04T10:11:12,32817,K92.2', '11,2,192671,2011-05-06,,32817,K92.2',
    ]),
    await write('visit_occurrence.csv', [
      'visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_end_date,visit_type_concept_id,admitted_from_concept_id',
      '100,1,9201,2010-03-04,2010-03-06,32817,0',
    ]),
    await write('concept.csv', [
      'concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason',
      '192671\tGastrointestinal hemorrhage\tCondition\tSNOMED\tClinical Finding\tS\t74474003\t19700101\t20991231\t',
    ]),
  ];
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

describe('table recognition', () => {
  it('reduces file names to table names', () => {
    expect(tableStem('/x/CDM_PERSON.csv')).toBe('person');
    expect(tableStem('measurement_002.csv')).toBe('measurement');
    expect(tableStem('cdm.drug_exposure.parquet')).toBe('drug_exposure');
  });
  it('recognises tables by name or by header, and not undescribed CDM tables', () => {
    expect(resolveOmopTable('PERSON.csv', ['PERSON_ID', 'foo'])).toBe('person');
    expect(resolveOmopTable('person.csv', ['name', 'age'])).toBeUndefined();
    expect(resolveOmopTable('export.csv', ['cohort_definition_id', 'subject_id', 'cohort_start_date', 'cohort_end_date'])).toBe('cohort');
    expect(resolveOmopTable('cohort_attribute.csv', ['cohort_definition_id', 'subject_id', 'cohort_start_date', 'cohort_end_date', 'value_as_number'])).toBeUndefined();
    expect(resolveOmopTable('patients.csv', ['id', 'age'])).toBeUndefined();
  });
  it('describes version differences', () => {
    const v53 = omopTable('visit_occurrence', '5.3')?.columns.map((c) => c.name) ?? [];
    const v54 = omopTable('visit_occurrence', '5.4')?.columns.map((c) => c.name) ?? [];
    expect(v53).toContain('admitting_source_concept_id');
    expect(v54).toContain('admitted_from_concept_id');
    expect(v54).not.toContain('admitting_source_concept_id');
  });
});

describe('ingestOmop on generated data', () => {
  it('loads a valid CDM with spec types, lower-case names and NULL for absent optional columns', async () => {
    const report = await ingestOmop(conn, await goodCdm());
    expect(report.version).toBe('5.4');
    expect(report.rows).toMatchObject({ person: 3, observation_period: 3, condition_occurrence: 2, visit_occurrence: 1, concept: 1, death: 0 });
    expect(report.products).toContain('drug_exposure'); // core table created empty
    expect(report.issues.some((i) => i.message.includes('favourite_colour') && i.message.includes('dropped'))).toBe(true);
    const types = await rows(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'condition_occurrence'`);
    const typeOf = Object.fromEntries(types.map((t) => [t['column_name'], t['data_type']]));
    expect(typeOf).toMatchObject({ person_id: 'BIGINT', condition_start_date: 'DATE', condition_start_datetime: 'TIMESTAMP', condition_source_value: 'VARCHAR' });
    const p = await rows(`SELECT person_id, year_of_birth, month_of_birth, person_source_value FROM person ORDER BY person_id`);
    expect(p[2]).toEqual({ person_id: 3n, year_of_birth: 2001n, month_of_birth: null, person_source_value: 'p,3' });
    const c = await rows(`SELECT CAST(valid_start_date AS VARCHAR) AS d, invalid_reason FROM concept`);
    expect(c).toEqual([{ d: '1970-01-01', invalid_reason: null }]);
  });

  it('detects v5.3 from version-specific columns', async () => {
    const files = await goodCdm();
    await write('visit_occurrence.csv', [
      'visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_end_date,visit_type_concept_id,admitting_source_concept_id',
      '100,1,9201,2010-03-04,2010-03-06,32817,0',
    ]);
    const report = await ingestOmop(conn, files);
    expect(report.version).toBe('5.3');
    const cols = await rows(`SELECT column_name FROM information_schema.columns WHERE table_name = 'visit_occurrence'`);
    expect(cols.map((c) => c['column_name'])).toContain('admitting_source_concept_id');
  });

  it('appends chunked files of one table', async () => {
    const files = await goodCdm();
    files.push(await write('condition_occurrence_2.csv', [
      'condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_type_concept_id',
      '12,3,192671,2012-01-01,32817',
    ]));
    const report = await ingestOmop(conn, files);
    expect(report.rows['condition_occurrence']).toBe(3);
  });

  it('reads Parquet files', async () => {
    const files = await goodCdm();
    const pq = path.join(dir, 'person.parquet');
    await conn.run(`COPY (SELECT 7 AS "Person_Id", 8507 AS gender_concept_id, 1990 AS year_of_birth, 0 AS race_concept_id,
      0 AS ethnicity_concept_id, DATE '1990-02-03' AS birth_datetime) TO '${pq.replaceAll("'", "''")}' (FORMAT parquet)`);
    const report = await ingestOmop(conn, [pq, ...files.filter((f) => !f.endsWith('PERSON.csv'))]);
    expect(report.rows['person']).toBe(1);
    expect(await rows('SELECT person_id, CAST(birth_datetime AS VARCHAR) AS b FROM person')).toEqual([{ person_id: 7n, b: '1990-02-03 00:00:00' }]);
  });

  it('reports every problem with file and line, and refuses the whole ingest', async () => {
    const files = await goodCdm();
    await write('condition_occurrence.csv', [
      'condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_type_concept_id',
      '10,1,192671,2010-03-04,32817', '11,1,192671,2010-03-05,32817', '12,2,192671,04/05/2011,32817', '13,2,x,2011-05-07,32817',
    ]);
    await write('observation_period.csv', [
      'observation_period_id,person_id,observation_period_start_date,period_type_concept_id',
      '1,1,2000-01-01,32817',
    ]);
    const err = await catchError(ingestOmop(conn, files));
    expect(err.code).toBe('INVALID_ARGUMENT');
    const issues = err.details['issues'] as Array<{ file: string; line?: number; message: string }>;
    expect(issues).toContainEqual({ file: path.join(dir, 'observation_period.csv'), line: 1, message: expect.stringContaining('observation_period_end_date') as string });
    expect(err.message).toContain('observation_period_end_date');
    const cond = path.join(dir, 'condition_occurrence.csv');
    expect(issues).toContainEqual({ file: cond, line: 4, message: expect.stringMatching(/condition_start_date.*ISO date/) as string });
    expect(issues).toContainEqual({ file: cond, line: 5, message: expect.stringMatching(/condition_concept_id.*integer/) as string });
    expect(issues).toHaveLength(3);
    expect(err.message).toContain(`${cond}:4:`);
    expect(await rows(`SELECT table_name FROM duckdb_tables()`)).toEqual([]);
  });

  it('refuses a folder without person, and a required value left empty', async () => {
    const files = (await goodCdm()).filter((f) => !f.endsWith('PERSON.csv'));
    const err = await catchError(ingestOmop(conn, files));
    expect(err.message).toContain('required OMOP table person is missing');
    const all = await goodCdm();
    await write('PERSON.csv', ['person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id', '1,8507,,0,0']);
    const err2 = await catchError(ingestOmop(conn, all));
    expect(err2.details['issues']).toContainEqual({ file: path.join(dir, 'PERSON.csv'), line: 2, message: expect.stringContaining('year_of_birth is required but empty') as string });
  });

  it('keeps the tables it had when a re-ingest fails, and re-ingests idempotently', async () => {
    const files = await goodCdm();
    const first = await ingestOmop(conn, files);
    const snapshot = async (): Promise<unknown[]> => rows(`SELECT 'p' AS t, count(*) AS n, sum(hash(person_id, year_of_birth)) AS h FROM person
      UNION ALL SELECT 'c', count(*), sum(hash(condition_occurrence_id, condition_start_date)) FROM condition_occurrence ORDER BY t`);
    const before = await snapshot();

    const again = await ingestOmop(conn, files);
    expect(again.rows).toEqual(first.rows);
    expect(await snapshot()).toEqual(before);

    // New person rows are fine, but a broken date elsewhere must leave everything as it was.
    await write('PERSON.csv', ['person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id', '9,8507,1950,0,0']);
    await write('condition_occurrence.csv', [
      'condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_type_concept_id',
      '10,1,192671,not-a-date,32817',
    ]);
    const err = await catchError(ingestOmop(conn, files));
    expect(err.details['issues']).toContainEqual({ file: path.join(dir, 'condition_occurrence.csv'), line: 2, message: expect.stringContaining('condition_start_date') as string });
    expect(await snapshot()).toEqual(before);
    const temp = await rows(`SELECT table_name FROM duckdb_tables() WHERE temporary`);
    expect(temp).toEqual([]);
  });

  it('reports a structurally broken CSV with its line', async () => {
    const files = await goodCdm();
    await write('observation_period.csv', [
      'observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id',
      '1,1,2000-01-01,2020-12-31,32817', '2,2,2005-06-01', '3,3,2010-01-01,2019-01-01,32817',
    ]);
    const err = await catchError(ingestOmop(conn, files));
    const issue = (err.details['issues'] as Array<{ file: string; line?: number }>).find((i) => i.file.endsWith('observation_period.csv'));
    expect(issue?.line).toBe(3);
  });
});

const hasGibleed = existsSync(GIBLEED);
if (!hasGibleed) console.warn(`[skip] OMOP GiBleed conformance: ${GIBLEED} is absent`);

describe.skipIf(!hasGibleed)('ingestOmop on Eunomia GiBleed (../shared/data)', () => {
  it('loads every described table with the published counts', async () => {
    const all = (await readdir(GIBLEED)).filter((f) => f.endsWith('.csv')).map((f) => path.join(GIBLEED, f));
    const undescribed = ['cohort_attribute', 'cost', 'fact_relationship', 'metadata', 'note', 'note_nlp', 'payer_plan_period', 'source_to_concept_map', 'specimen'];
    const files = all.filter((f) => !undescribed.includes(path.basename(f, '.csv')));
    const t0 = performance.now();
    const report = await ingestOmop(conn, files);
    const ms = performance.now() - t0;
    expect(report.version).toBe('5.3');
    expect(report.rows).toMatchObject({
      person: 2694, condition_occurrence: 65332, drug_exposure: 67707, drug_era: 52508, measurement: 44053,
      observation_period: 5343, concept: 444, concept_ancestor: 65690,
    });
    // GiBleed carries duplicate event ids; they are warnings, not failures.
    expect(report.issues.some((i) => i.message.includes('duplicate drug_exposure_id'))).toBe(true);
    expect(ms).toBeLessThan(30_000);
    const d = await rows(`SELECT any_value(typeof(condition_start_date)) AS t, count(*) FILTER (WHERE condition_start_date IS NULL) AS missing FROM condition_occurrence`);
    expect(d).toEqual([{ t: 'DATE', missing: 0n }]);
  });
});
