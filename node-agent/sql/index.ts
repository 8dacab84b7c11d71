/** SQL dialects: one file per engine behind one interface (see README.md). */
export { SQL_TYPES, checkShapeInteger, paramBinder, tempTableStatements, type SqlDialect, type SqlType } from './dialect.js';
export { duckdbDialect } from './duckdb.js';
export { postgresDialect } from './postgres.js';
export { sqlServerDialect } from './sql-server.js';
