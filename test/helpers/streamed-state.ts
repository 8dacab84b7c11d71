/**
 * Test support for the streamed (issue 13) paths: a PostgreSQL session whose stream is a real server-side cursor,
 * counting what it streams, and a probe of what a job's state keeps (a per-row array would be as long as the rows).
 */
import type pg from 'pg';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { postgresDialect } from '../../node-agent/sql/index.js';

/** What a cursorSession counted: streams opened, rows read, the largest FETCH batch. */
export interface CursorCounts {
  streams: number;
  rows: number;
  largestBatch: number;
}

/** A session over one client whose stream is a real server-side cursor (FETCH in batches of 5 000), counting what it streams. */
export function cursorSession(c: pg.Client, seen: CursorCounts): SqlSession {
  const args = (p: readonly unknown[] | undefined): unknown[] => (p ?? []).map((v) => (typeof v === 'bigint' ? v.toString() : v));
  return {
    dialect: postgresDialect,
    run: async (sql, p) => void (await c.query(sql, args(p))),
    all: async (sql, p) => (await c.query(sql, args(p))).rows as Record<string, unknown>[],
    async *stream(sql, p) {
      seen.streams++;
      await c.query('BEGIN READ ONLY');
      try {
        await c.query(`DECLARE fedmesh_test_cursor NO SCROLL CURSOR FOR ${sql}`, args(p));
        for (;;) {
          const batch = (await c.query('FETCH 5000 FROM fedmesh_test_cursor')).rows as Record<string, unknown>[];
          if (batch.length === 0) break;
          seen.rows += batch.length;
          seen.largestBatch = Math.max(seen.largestBatch, batch.length);
          yield batch;
        }
      } finally {
        await c.query('COMMIT');
      }
    },
  };
}

/** Largest typed array or array kept in job states (nested up to 3 levels). */
export function largestKept(states: Iterable<Map<string, unknown>>): number {
  let most = 0;
  const visit = (v: unknown, depth: number): void => {
    if (ArrayBuffer.isView(v)) most = Math.max(most, (v as unknown as { length: number }).length ?? 0);
    else if (Array.isArray(v)) {
      most = Math.max(most, v.length);
      if (depth < 3) v.forEach((x) => visit(x, depth + 1));
    } else if (v && typeof v === 'object' && depth < 3) Object.values(v).forEach((x) => visit(x, depth + 1));
  };
  for (const state of states) state.forEach((v) => visit(v, 0));
  return most;
}
