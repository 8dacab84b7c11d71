/**
 * Test support (imported only by `*.test.ts`): an in-memory DuckDB with the OMOP CDM columns the cohort compiler
 * reads, a row writer for hand-made fixtures, and a loader for the Eunomia GiBleed CSVs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';

type ColumnType = 'BIGINT' | 'INTEGER' | 'DATE' | 'DOUBLE' | 'VARCHAR';

/** The subset of OMOP CDM v5.3/5.4 columns the compiler uses, in the order fixture rows list them. */
export const OMOP_COLUMNS: Record<string, readonly (readonly [string, ColumnType])[]> = {
  person: [
    ['person_id', 'BIGINT'],
    ['gender_concept_id', 'BIGINT'],
    ['year_of_birth', 'INTEGER'],
    ['race_concept_id', 'BIGINT'],
    ['ethnicity_concept_id', 'BIGINT'],
  ],
  observation_period: [
    ['observation_period_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['observation_period_start_date', 'DATE'],
    ['observation_period_end_date', 'DATE'],
  ],
  condition_occurrence: [
    ['condition_occurrence_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['condition_concept_id', 'BIGINT'],
    ['condition_start_date', 'DATE'],
    ['condition_end_date', 'DATE'],
    ['visit_occurrence_id', 'BIGINT'],
    ['condition_source_concept_id', 'BIGINT'],
  ],
  drug_exposure: [
    ['drug_exposure_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['drug_concept_id', 'BIGINT'],
    ['drug_exposure_start_date', 'DATE'],
    ['drug_exposure_end_date', 'DATE'],
    ['days_supply', 'INTEGER'],
    ['visit_occurrence_id', 'BIGINT'],
    ['drug_source_concept_id', 'BIGINT'],
  ],
  drug_era: [
    ['drug_era_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['drug_concept_id', 'BIGINT'],
    ['drug_era_start_date', 'DATE'],
    ['drug_era_end_date', 'DATE'],
  ],
  condition_era: [
    ['condition_era_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['condition_concept_id', 'BIGINT'],
    ['condition_era_start_date', 'DATE'],
    ['condition_era_end_date', 'DATE'],
  ],
  measurement: [
    ['measurement_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['measurement_concept_id', 'BIGINT'],
    ['measurement_date', 'DATE'],
    ['value_as_number', 'DOUBLE'],
    ['visit_occurrence_id', 'BIGINT'],
  ],
  observation: [
    ['observation_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['observation_concept_id', 'BIGINT'],
    ['observation_date', 'DATE'],
    ['value_as_number', 'DOUBLE'],
    ['visit_occurrence_id', 'BIGINT'],
  ],
  procedure_occurrence: [
    ['procedure_occurrence_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['procedure_concept_id', 'BIGINT'],
    ['procedure_date', 'DATE'],
    ['visit_occurrence_id', 'BIGINT'],
  ],
  visit_occurrence: [
    ['visit_occurrence_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['visit_concept_id', 'BIGINT'],
    ['visit_start_date', 'DATE'],
    ['visit_end_date', 'DATE'],
  ],
  death: [
    ['person_id', 'BIGINT'],
    ['death_date', 'DATE'],
    ['cause_concept_id', 'BIGINT'],
  ],
  concept: [
    ['concept_id', 'BIGINT'],
    ['concept_name', 'VARCHAR'],
    ['invalid_reason', 'VARCHAR'],
  ],
  concept_ancestor: [
    ['ancestor_concept_id', 'BIGINT'],
    ['descendant_concept_id', 'BIGINT'],
  ],
  concept_relationship: [
    ['concept_id_1', 'BIGINT'],
    ['concept_id_2', 'BIGINT'],
    ['relationship_id', 'VARCHAR'],
    ['invalid_reason', 'VARCHAR'],
  ],
};

export type Row = readonly (string | number | null)[];
export type Fixture = Partial<Record<keyof typeof OMOP_COLUMNS, readonly Row[]>>;

export interface TestDb {
  readonly instance: DuckDBInstance;
  readonly conn: DuckDBConnection;
  close(): void;
}

/** A fresh in-memory database with empty OMOP tables. */
export async function createOmopDb(): Promise<TestDb> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  for (const [table, cols] of Object.entries(OMOP_COLUMNS)) {
    await conn.run(`CREATE TABLE ${table} (${cols.map(([c, t]) => `${c} ${t}`).join(', ')})`);
  }
  return {
    instance,
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

function literal(v: string | number | null, type: ColumnType): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError('fixture number must be finite');
    return String(v);
  }
  if (!/^[\w .:-]*$/.test(v)) throw new RangeError(`fixture string has odd characters: ${v}`);
  return type === 'DATE' ? `DATE '${v}'` : `'${v}'`;
}

/** Insert fixture rows (positional, in `OMOP_COLUMNS` order) in one statement per table. */
export async function insertFixture(conn: DuckDBConnection, fixture: Fixture): Promise<void> {
  for (const [table, rows] of Object.entries(fixture)) {
    if (!rows || rows.length === 0) continue;
    const cols = OMOP_COLUMNS[table];
    if (!cols) throw new RangeError(`unknown fixture table ${table}`);
    const values = rows.map((r) => {
      if (r.length !== cols.length) throw new RangeError(`${table} row has ${r.length} values, wants ${cols.length}`);
      return `(${r.map((v, i) => literal(v, (cols[i] as readonly [string, ColumnType])[1])).join(', ')})`;
    });
    await conn.run(`INSERT INTO ${table} VALUES ${values.join(', ')}`);
  }
}

export async function omopDbWith(fixture: Fixture): Promise<TestDb> {
  const db = await createOmopDb();
  await insertFixture(db.conn, fixture);
  return db;
}

/** `path.resolve(repoRoot, '../shared/data')`, where the repo root is two levels above this folder. */
export function sharedDataDir(): string {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  return path.resolve(repoRoot, '../shared/data');
}

function castFromText(col: string, type: ColumnType): string {
  const v = `NULLIF(TRIM(${col}), '')`;
  switch (type) {
    case 'BIGINT':
    case 'INTEGER':
      // Some GiBleed id columns are written as "192671.0".
      return `CAST(CAST(${v} AS DOUBLE) AS ${type})`;
    case 'DATE':
      return `CAST(${v} AS DATE)`;
    case 'DOUBLE':
      return `CAST(${v} AS DOUBLE)`;
    case 'VARCHAR':
      return v;
  }
}

/** Load the OMOP CSVs of a folder (lower-case headers, e.g. Eunomia GiBleed) into the tables of `createOmopDb`. */
export async function loadOmopCsvFolder(conn: DuckDBConnection, dir: string): Promise<void> {
  for (const [table, cols] of Object.entries(OMOP_COLUMNS)) {
    const file = path.join(dir, `${table}.csv`);
    if (!existsSync(file)) throw new Error(`missing ${file}`);
    const select = cols.map(([c, t]) => `${castFromText(`"${c}"`, t)} AS ${c}`).join(', ');
    // The path is a fixed test location; escape quotes anyway.
    const quoted = file.replaceAll("'", "''");
    await conn.run(
      `INSERT INTO ${table} SELECT ${select} FROM read_csv('${quoted}', header = true, all_varchar = true)`,
    );
  }
}
