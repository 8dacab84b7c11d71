import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConceptNamesReply, MAX_CONCEPT_LOOKUP_IDS, MAX_CONCEPT_NAME_CHARS } from '../../common/job/index.js';
import { checkLookupIds, hasConceptTable, lookUpConceptNames } from './vocabulary.js';

describe('the agent names concepts from its public OMOP concept table only', () => {
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    // concept_id as VARCHAR, as a CSV read with odd values may type it; a duplicated id with two different names.
    await conn.run(`CREATE TABLE concept (concept_id VARCHAR, concept_name VARCHAR, domain_id VARCHAR)`);
    await conn.run(`INSERT INTO concept VALUES
      ('192671', 'Gastrointestinal hemorrhage', 'Condition'), ('8507', 'MALE', 'Gender'), ('8532', 'FEMALE', 'Gender'),
      ('777', 'one name', 'Condition'), ('777', 'another name', 'Condition'), ('778', 'same', 'Condition'), ('778', 'same', 'Condition'),
      ('900', 'bell' || chr(7) || ' and' || chr(27) || '[2J escape', 'Condition'), ('901', repeat('x', 400), 'Condition'), ('902', NULL, 'Condition'),
      ('not a number', 'junk', 'Condition')`);
    await conn.run(`CREATE TABLE condition_occurrence (person_id BIGINT, condition_concept_id BIGINT)`);
    await conn.run(`INSERT INTO condition_occurrence VALUES (1, 4000001)`);
  });
  afterAll(() => {
    conn.closeSync();
    inst.closeSync();
  });

  it('returns the names of the ids asked, and only those', async () => {
    const got = await lookUpConceptNames(conn, [192671, 8507]);
    expect(got).toEqual([{ conceptId: 8507, name: 'MALE' }, { conceptId: 192671, name: 'Gastrointestinal hemorrhage' }]);
  });

  it('an id only in a patient table, or absent, or without a name, gets nothing', async () => {
    expect(await lookUpConceptNames(conn, [4000001, 123456, 902])).toEqual([]);
  });

  it('an id with two different names gets none; duplicates of one name are fine', async () => {
    expect(await lookUpConceptNames(conn, [777, 778])).toEqual([{ conceptId: 778, name: 'same' }]);
  });

  it('control characters become spaces and long names are cut, so the answer passes the coordinator check', async () => {
    const got = await lookUpConceptNames(conn, [900, 901]);
    expect(got[0]!.name).toBe('bell  and [2J escape');
    expect(got[1]!.name).toHaveLength(MAX_CONCEPT_NAME_CHARS);
    expect(got[1]!.name.endsWith('…')).toBe(true);
    expect(checkConceptNamesReply([900, 901], got).ok).toBe(true);
  });

  it('checks the ids before any SQL runs, naming the field', () => {
    expect(() => checkLookupIds([])).toThrow(/concept_ids: a concept-names task must list/);
    expect(() => checkLookupIds(undefined)).toThrow(/concept_ids/);
    expect(() => checkLookupIds([1, -2])).toThrow(/concept_ids\[1\]: must be a non-negative integer/);
    expect(() => checkLookupIds([1.5])).toThrow(/concept_ids\[0\]/);
    expect(() => checkLookupIds(Array.from({ length: MAX_CONCEPT_LOOKUP_IDS + 1 }, (_, i) => i))).toThrow(/at most 5000 ids/);
    expect(checkLookupIds([3, 3, 1])).toEqual([3, 1]);
  });

  it('knows when there is no vocabulary to name from', () => {
    expect(hasConceptTable([{ name: 'concept', columns: [{ name: 'concept_id', type: 'BIGINT' }, { name: 'concept_name', type: 'VARCHAR' }], privacyUnit: undefined, description: '', source: '' }])).toBe(true);
    expect(hasConceptTable([{ name: 'concept', columns: [{ name: 'concept_id', type: 'BIGINT' }], privacyUnit: undefined, description: '', source: '' }])).toBe(false);
    expect(hasConceptTable([{ name: 'person', columns: [], privacyUnit: 'person_id', description: '', source: '' }])).toBe(false);
  });
});
