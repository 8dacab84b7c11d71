import type { DuckDBConnection } from '@duckdb/node-api';
import { CONDITIONS, DRUGS, ETHNICITY, GENDER, LABS, RACE, TYPE_CONCEPT, UNIT, VISIT } from './concepts.js';
import { sqlStringLiteral } from './sql-text.js';

interface VocabRow {
  id: number;
  name: string;
  domain: string;
  vocabulary: string;
  conceptClass: string;
  code: string;
}

/** The small slice of the OMOP vocabulary the synthetic sites use, so concept sets resolve as on real CDMs. */
export function vocabularyRows(): VocabRow[] {
  return [
    ...CONDITIONS.map((c) => ({ id: c.conceptId, name: c.name, domain: 'Condition', vocabulary: 'SNOMED', conceptClass: 'Clinical Finding', code: c.icd10 })),
    ...DRUGS.map((d) => ({ id: d.conceptId, name: d.name, domain: 'Drug', vocabulary: 'RxNorm', conceptClass: 'Ingredient', code: d.rxnorm })),
    ...LABS.map((l) => ({ id: l.conceptId, name: l.name, domain: 'Measurement', vocabulary: 'LOINC', conceptClass: 'Lab Test', code: l.loinc })),
    { id: GENDER.male, name: 'MALE', domain: 'Gender', vocabulary: 'Gender', conceptClass: 'Gender', code: 'M' },
    { id: GENDER.female, name: 'FEMALE', domain: 'Gender', vocabulary: 'Gender', conceptClass: 'Gender', code: 'F' },
    { id: RACE.white, name: 'White', domain: 'Race', vocabulary: 'Race', conceptClass: 'Race', code: '5' },
    { id: RACE.black, name: 'Black or African American', domain: 'Race', vocabulary: 'Race', conceptClass: 'Race', code: '3' },
    { id: RACE.asian, name: 'Asian', domain: 'Race', vocabulary: 'Race', conceptClass: 'Race', code: '2' },
    { id: ETHNICITY.hispanic, name: 'Hispanic or Latino', domain: 'Ethnicity', vocabulary: 'Ethnicity', conceptClass: 'Ethnicity', code: 'Hispanic' },
    { id: ETHNICITY.notHispanic, name: 'Not Hispanic or Latino', domain: 'Ethnicity', vocabulary: 'Ethnicity', conceptClass: 'Ethnicity', code: 'Not Hispanic' },
    { id: VISIT.inpatient, name: 'Inpatient Visit', domain: 'Visit', vocabulary: 'Visit', conceptClass: 'Visit', code: 'IP' },
    { id: VISIT.outpatient, name: 'Outpatient Visit', domain: 'Visit', vocabulary: 'Visit', conceptClass: 'Visit', code: 'OP' },
    { id: VISIT.emergency, name: 'Emergency Room Visit', domain: 'Visit', vocabulary: 'Visit', conceptClass: 'Visit', code: 'ER' },
    { id: TYPE_CONCEPT.ehr, name: 'EHR', domain: 'Type Concept', vocabulary: 'Type Concept', conceptClass: 'Type Concept', code: 'OMOP4976890' },
    { id: UNIT.percent, name: 'percent', domain: 'Unit', vocabulary: 'UCUM', conceptClass: 'Unit', code: '%' },
    { id: UNIT.mmHg, name: 'millimeter mercury column', domain: 'Unit', vocabulary: 'UCUM', conceptClass: 'Unit', code: 'mm[Hg]' },
    { id: UNIT.mgPerDl, name: 'milligram per deciliter', domain: 'Unit', vocabulary: 'UCUM', conceptClass: 'Unit', code: 'mg/dL' },
  ];
}

/** Writes `concept` and `concept_ancestor` (each concept its own ancestor at level 0) next to a site's tables. */
export async function writeVocabulary(conn: DuckDBConnection, dir: string, format: 'csv' | 'parquet'): Promise<Record<string, number>> {
  const rows = vocabularyRows();
  await conn.run(`CREATE OR REPLACE TEMP TABLE synth_vocab (concept_id BIGINT, concept_name VARCHAR, domain_id VARCHAR, vocabulary_id VARCHAR, concept_class_id VARCHAR, concept_code VARCHAR)`);
  const app = await conn.createAppender('synth_vocab');
  for (const r of rows) {
    app.appendBigInt(BigInt(r.id));
    app.appendVarchar(r.name);
    app.appendVarchar(r.domain);
    app.appendVarchar(r.vocabulary);
    app.appendVarchar(r.conceptClass);
    app.appendVarchar(r.code);
    app.endRow();
  }
  app.closeSync();
  const opts = format === 'csv' ? '(FORMAT csv, HEADER)' : '(FORMAT parquet)';
  await conn.run(
    `COPY (SELECT concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, 'S' AS standard_concept, concept_code,
                  DATE '1970-01-01' AS valid_start_date, DATE '2099-12-31' AS valid_end_date, NULL::VARCHAR AS invalid_reason
             FROM synth_vocab ORDER BY concept_id) TO ${sqlStringLiteral(`${dir}/concept.${format}`)} ${opts}`,
  );
  await conn.run(
    `COPY (SELECT concept_id AS ancestor_concept_id, concept_id AS descendant_concept_id, 0 AS min_levels_of_separation, 0 AS max_levels_of_separation
             FROM synth_vocab ORDER BY concept_id) TO ${sqlStringLiteral(`${dir}/concept_ancestor.${format}`)} ${opts}`,
  );
  return { concept: rows.length, concept_ancestor: rows.length };
}
