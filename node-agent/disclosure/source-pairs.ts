/**
 * Mode none on a site's server: the (cell, person) pairs a kind is about to release, read from a server query through
 * a cursor into the agent's DuckDB and keyed-hashed there with the agent's person hash, as local TEMP table
 * `(cell, h)` for the differencing guard — so the guard's memory is the same whichever engine holds the data. One
 * path for every kind that runs on the server (aggregate, contingency, glm and train).
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { SqlParam, SqlSession } from '../data/source/index.js';
import { personHashSql } from './released-cells.js';

export interface SourcePairs {
  /** A query on `source` returning columns `u` (the privacy unit as text) and the cell (`cell`, or what `cellOf` reads). */
  readonly sql: string;
  readonly params: readonly SqlParam[];
  /** A row's cell label. @default the row's `cell` column as text */
  readonly cellOf?: (row: Record<string, unknown>) => string;
  /** Cursor batch size. @default the source's */
  readonly batchRows?: number;
}

/**
 * Creates local TEMP table `target` (cell, h) on `local` from `pairs` (distinct, hashed with `salt`); the raw units
 * pass through a task-private table that is always dropped. The caller drops `target`.
 */
export async function hashPairsFromSource(source: SqlSession, local: DuckDBConnection, pairs: SourcePairs, salt: string, target: string): Promise<void> {
  const raw = `fedmesh_pairs_${randomBytes(6).toString('hex')}`;
  const cellOf = pairs.cellOf ?? ((r) => String(r['cell']));
  await local.run(`CREATE TEMP TABLE "${raw}" (cell VARCHAR, u VARCHAR)`);
  try {
    const appender = await local.createAppender(raw, 'main', 'temp');
    try {
      for await (const batch of source.stream(pairs.sql, pairs.params, pairs.batchRows !== undefined ? { batchRows: pairs.batchRows } : undefined)) {
        for (const r of batch) {
          appender.appendVarchar(cellOf(r));
          appender.appendVarchar(String(r['u']));
          appender.endRow();
        }
        appender.flushSync();
      }
    } finally {
      appender.closeSync();
    }
    // sql: duckdb-only (the pairs were copied into the agent's own DuckDB above)
    await local.run(`CREATE TEMP TABLE "${target}" AS SELECT DISTINCT cell, ${personHashSql('u', '$1')} AS h FROM "${raw}"`, [salt]);
  } finally {
    await local.run(`DROP TABLE IF EXISTS "${raw}"`).catch(() => undefined);
  }
}
