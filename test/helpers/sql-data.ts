import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** Writes `<dir>/<name>.csv` from a DuckDB query (deterministic test data; no randomness). */
export async function writeCsvFromSql(dir: string, name: string, sql: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    const path = join(dir, `${name}.csv`);
    await conn.run(`COPY (${sql}) TO '${path.replace(/'/g, "''")}' (HEADER, DELIMITER ',')`);
    return path;
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}
