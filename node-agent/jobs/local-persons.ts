/**
 * Per-person intermediates that the agent's own DuckDB must see while the data lives elsewhere (PostgreSQL): the
 * distinct persons of a cohort, streamed through a cursor in batches into a local TEMP table, never whole in
 * memory. They stay inside the agent (its differencing memory already holds keyed hashes of the same persons).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { DEFAULT_BATCH_ROWS, type SqlSession } from '../data/source/source.js';

/**
 * Copies `SELECT DISTINCT subject_id FROM <cohortTable>` from `data` into local TEMP table `<cohortTable>_local`
 * `(subject_id BIGINT)` and returns its name.
 */
export async function copyPersonsToLocal(data: SqlSession, cohortTable: string, local: DuckDBConnection, batchRows = DEFAULT_BATCH_ROWS): Promise<string> {
  const name = `${cohortTable.replace(/[^A-Za-z0-9_]/g, '')}_local`;
  await local.run(`CREATE OR REPLACE TEMP TABLE "${name}" (subject_id BIGINT)`);
  const appender = await local.createAppender(name, 'main', 'temp');
  try {
    const sql = `SELECT DISTINCT subject_id FROM ${data.dialect.tempTable(cohortTable)} WHERE subject_id IS NOT NULL`;
    for await (const rows of data.stream(sql, [], { batchRows })) {
      for (const r of rows) {
        appender.appendBigInt(BigInt(r['subject_id'] as bigint | number | string));
        appender.endRow();
      }
      appender.flushSync();
    }
  } finally {
    appender.closeSync();
  }
  return name;
}
