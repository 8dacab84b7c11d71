/** The agent's data sources: the embedded DuckDB and a site's PostgreSQL, behind one seam (source.ts). */
export { DEFAULT_BATCH_ROWS, type DataSource, type SessionOptions, type SqlParam, type SqlRow, type SqlSession } from './source.js';
export { duckdbSession, duckdbSource } from './duckdb-source.js';
export { openPostgresSource, parseDatabaseUrl, type PostgresSource, type PostgresSourceOptions } from './postgres-source.js';
export type { CdmCatalogue } from './cdm-check.js';
export { refuseOffSource, sourceProducts, SOURCE_KINDS } from './agent-source.js';
