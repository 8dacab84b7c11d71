import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * Opens a stopped coordinator's state database (`<state>/coordinator.duckdb`) for a test to read or forge, and
 * closes it whatever `fn` does, so the coordinator started next finds the file unlocked.
 */
export async function withStateDb<T>(state: string, fn: (conn: DuckDBConnection) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const instance = await DuckDBInstance.create(join(state, 'coordinator.duckdb'), options.readOnly ? { access_mode: 'READ_ONLY' } : {});
  try {
    const conn = await instance.connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Runs `statements` in order on a stopped coordinator's state: how tests stand in for someone editing the ledger. */
export function editState(state: string, statements: readonly string[]): Promise<void> {
  return withStateDb(state, async (conn) => {
    for (const s of statements) await conn.run(s);
  });
}
