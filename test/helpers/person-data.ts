import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface PersonRow {
  person_id: number;
  gender_concept_id: number;
  year_of_birth: number;
  bmi: number | null;
}

/** Deterministic small person tables (a simple LCG; test data only, never privacy noise). */
export function makePersons(n: number, seed: number, firstId = 1): PersonRow[] {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: n }, (_, i) => ({
    person_id: firstId + i,
    gender_concept_id: next() < 0.52 ? 8532 : 8507,
    year_of_birth: 1930 + Math.floor(next() * 80),
    bmi: next() < 0.1 ? null : Math.round((18 + next() * 20) * 1000) / 1000,
  }));
}

/** Writes rows as `<dir>/person.csv` through DuckDB. */
export async function writePersonCsv(dir: string, rows: PersonRow[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    await conn.run('CREATE TABLE person (person_id BIGINT, gender_concept_id BIGINT, year_of_birth BIGINT, bmi DOUBLE)');
    const app = await conn.createAppender('person');
    for (const r of rows) {
      app.appendBigInt(BigInt(r.person_id));
      app.appendBigInt(BigInt(r.gender_concept_id));
      app.appendBigInt(BigInt(r.year_of_birth));
      if (r.bmi === null) app.appendNull();
      else app.appendDouble(r.bmi);
      app.endRow();
    }
    app.closeSync();
    const path = join(dir, 'person.csv');
    await conn.run(`COPY person TO '${path.replace(/'/g, "''")}' (HEADER, DELIMITER ',')`);
    return path;
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}
