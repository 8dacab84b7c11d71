/**
 * Where an agent's data lives, behind one seam: the embedded DuckDB (the default) or the site's own PostgreSQL.
 * Query builders ask a session for its dialect, build their SQL with it, and run it here with bound parameters;
 * nothing above this seam knows which engine answers.
 *
 * A session is one database connection for the length of one task: the TEMP working tables a task creates (cohort
 * stages, materialised rows) live in it and vanish with it. Rows come back as plain objects with lower-case column
 * names; integers as `bigint` (BIGINT, counts) or `number` (INTEGER), dates as the engine's JS form.
 */
import type { SqlDialect } from '../../sql/index.js';

export type SqlParam = string | number | bigint | boolean | null;
export type SqlRow = Record<string, unknown>;

export interface SqlSession {
  readonly dialect: SqlDialect;
  /** A statement whose rows are not read (DDL on TEMP tables, ANALYZE). */
  run(sql: string, params?: readonly SqlParam[]): Promise<void>;
  /** A query whose (small, aggregate) result is read whole. */
  all(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]>;
  /**
   * A query whose result may be large (per-person rows, training batches): read through a cursor, `batchRows` rows
   * at a time, never whole into memory. Stop early by breaking out of the loop.
   */
  stream(sql: string, params: readonly SqlParam[], options?: { batchRows?: number }): AsyncIterable<SqlRow[]>;
  /**
   * Runs `fn`'s reads (`all`, `stream`) on one snapshot of the database (PostgreSQL: one REPEATABLE READ READ ONLY
   * transaction), so that two statements of one step — say the counts a kind releases and the person sets its
   * differencing guard records — see the same rows even while the hospital's database is being written. No `run`
   * inside (TEMP tables cannot be made in a read-only transaction). Absent: each read is its own snapshot.
   */
  snapshot?<T>(fn: () => Promise<T>): Promise<T>;
}

export interface SessionOptions {
  /**
   * The task's cancellation (its deadline or CancelTask): when it fires, the statement running on the session is
   * cancelled on the server, so a cancelled task does not keep working on the hospital's database. @default none
   */
  signal?: AbortSignal;
}

export interface DataSource {
  readonly kind: 'duckdb' | 'postgres';
  readonly dialect: SqlDialect;
  /**
   * Runs `fn` on one session and always releases it. A connection lost during `fn` fails with AGENT_UNAVAILABLE
   * (retryable) and the next session gets a new connection.
   */
  withSession<T>(fn: (s: SqlSession) => Promise<T>, options?: SessionOptions): Promise<T>;
  close(): Promise<void>;
}

/** Default cursor batch: large enough to amortise a round trip, small enough to bound memory. */
export const DEFAULT_BATCH_ROWS = 10_000;
