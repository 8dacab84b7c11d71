import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ensurePrivateDir, restrictFiles } from '../../common/private-state.js';

/** The agent's DuckDB database file in its state folder. */
export interface AgentDatabase {
  instance: DuckDBInstance;
  path: string;
  /** Runs `fn` on a fresh connection and always closes it. */
  withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  close(): void;
}

/**
 * Opens the agent's database. It holds patient data and the agent's secret salt, so the state folder is made (or
 * tightened to) 0700 and the database files 0600.
 */
export async function openAgentDatabase(stateDir: string): Promise<AgentDatabase> {
  ensurePrivateDir(stateDir);
  const path = join(stateDir, 'agent.duckdb');
  const instance = await DuckDBInstance.create(path);
  restrictFiles([path, `${path}.wal`]);
  return {
    instance,
    path,
    async withConnection(fn) {
      const conn = await instance.connect();
      try {
        return await fn(conn);
      } finally {
        conn.closeSync();
      }
    },
    close() {
      instance.closeSync();
    },
  };
}

/** Quotes an identifier for DuckDB SQL. Only ever used on names the agent itself validated. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for DuckDB SQL (file paths the agent found on its own disk). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
