/**
 * The DuckDB side of the data-source seam: a session over one DuckDB connection (the agent's own file, or any
 * connection a caller holds). Streaming reads DuckDB's result chunk by chunk.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { duckdbDialect } from '../../sql/index.js';
import type { DataSource, SqlParam, SqlRow, SqlSession } from './source.js';

const values = (params: readonly SqlParam[] | undefined): DuckDBValue[] | undefined => (params && params.length > 0 ? (params as DuckDBValue[]) : undefined);

/** A session on a connection the caller owns (and closes). */
export function duckdbSession(conn: DuckDBConnection): SqlSession {
  return {
    dialect: duckdbDialect,
    async run(sql, params) {
      await conn.run(sql, values(params));
    },
    async all(sql, params) {
      return (await conn.runAndReadAll(sql, values(params))).getRowObjectsJS() as SqlRow[];
    },
    async *stream(sql, params, options) {
      const result = await conn.stream(sql, values(params));
      const want = options?.batchRows ?? 0;
      let batch: SqlRow[] = [];
      for await (const rows of result.yieldRowObjectJs()) {
        if (want <= 0) {
          yield rows as SqlRow[];
          continue;
        }
        batch.push(...(rows as SqlRow[]));
        while (batch.length >= want) {
          yield batch.slice(0, want);
          batch = batch.slice(want);
        }
      }
      if (batch.length > 0) yield batch;
    },
  };
}

/** A data source over a DuckDB instance: a fresh connection per session. */
export function duckdbSource(connect: () => Promise<DuckDBConnection>, close: () => void = () => undefined): DataSource {
  return {
    kind: 'duckdb',
    dialect: duckdbDialect,
    async withSession(fn) {
      const conn = await connect();
      try {
        return await fn(duckdbSession(conn));
      } finally {
        conn.closeSync();
      }
    },
    async close() {
      close();
    },
  };
}
