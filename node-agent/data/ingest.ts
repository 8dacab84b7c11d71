import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { INTERNAL_PREFIX } from './products.js';
import { quoteIdent, quoteLiteral } from './database.js';

export interface IngestedFile {
  product: string;
  file: string;
  action: 'loaded' | 'unchanged' | 'failed';
  rows?: number;
  error?: string;
}

export interface IngestReport {
  files: IngestedFile[];
  removed: string[];
}

const TABULAR = new Map<string, (path: string) => string>([
  ['.csv', (p) => `read_csv(${quoteLiteral(p)}, header = true, auto_detect = true)`],
  ['.parquet', (p) => `read_parquet(${quoteLiteral(p)})`],
]);

const PRODUCT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function productName(file: string): string | undefined {
  const stem = basename(file, extname(file)).toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return PRODUCT_NAME.test(stem) && !stem.startsWith(INTERNAL_PREFIX) ? stem : undefined;
}

async function ensureBookkeeping(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${INTERNAL_PREFIX}ingest (product VARCHAR PRIMARY KEY, file VARCHAR, size BIGINT, mtime_ms DOUBLE, rows BIGINT, loaded_at TIMESTAMP)`,
  );
}

/**
 * Loads every CSV or Parquet file in `dataDir` as a data product (table name = lower-cased file stem).
 * DuckDB reads the files itself; a file is loaded again only when its size or modification time changed.
 * Each file loads in its own transaction: a broken file is reported and the product keeps its previous data.
 */
export async function ingestTabularFolder(conn: DuckDBConnection, dataDir: string, only?: readonly string[]): Promise<IngestReport> {
  await ensureBookkeeping(conn);
  const entries = only ? [...only].sort() : (await readdir(dataDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  const files: IngestedFile[] = [];
  const seen = new Set<string>();
  for (const name of entries) {
    const reader = TABULAR.get(extname(name).toLowerCase());
    const product = productName(name);
    if (!reader || !product) continue;
    if (seen.has(product)) {
      files.push({ product, file: name, action: 'failed', error: `another file already provides product ${product}` });
      continue;
    }
    seen.add(product);
    const path = join(dataDir, name);
    const st = await stat(path);
    const prev = await conn.runAndReadAll(`SELECT size, mtime_ms, file FROM ${INTERNAL_PREFIX}ingest WHERE product = $1`, [product]);
    const row = prev.getRowObjectsJS()[0];
    if (row && Number(row.size) === st.size && Number(row.mtime_ms) === st.mtimeMs && row.file === name) {
      files.push({ product, file: name, action: 'unchanged' });
      continue;
    }
    try {
      await conn.run('BEGIN TRANSACTION');
      await conn.run(`CREATE OR REPLACE TABLE ${quoteIdent(product)} AS SELECT * FROM ${reader(path)}`);
      const count = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${quoteIdent(product)}`);
      const rows = Number(count.getRowObjectsJS()[0]?.n ?? 0);
      await conn.run(
        `INSERT OR REPLACE INTO ${INTERNAL_PREFIX}ingest VALUES ($1, $2, $3, $4, $5, now()::TIMESTAMP)`,
        [product, name, st.size, st.mtimeMs, rows],
      );
      await conn.run('COMMIT');
      files.push({ product, file: name, action: 'loaded', rows });
    } catch (e) {
      await conn.run('ROLLBACK').catch(() => undefined);
      files.push({ product, file: name, action: 'failed', error: (e as Error).message.split('\n')[0] ?? 'unknown error' });
    }
  }
  const removed: string[] = [];
  const known = await conn.runAndReadAll(`SELECT product FROM ${INTERNAL_PREFIX}ingest`);
  for (const r of known.getRowObjectsJS()) {
    const p = String(r.product);
    if (!seen.has(p)) {
      await conn.run('BEGIN TRANSACTION');
      await conn.run(`DROP TABLE IF EXISTS ${quoteIdent(p)}`);
      await conn.run(`DELETE FROM ${INTERNAL_PREFIX}ingest WHERE product = $1`, [p]);
      await conn.run('COMMIT');
      removed.push(p);
    }
  }
  return { files, removed };
}
