/** Test support: OMOP tables in PostgreSQL (implementation in benchmarks/postgres-omop.ts, shared with the benchmark). */
export { copyDuckDbTablesToPostgres, createReadOnlyRole, createTableSql, loadOmopCsvIntoDuckDb, pgType, recommendedIndexSql, VOCABULARY_TABLES } from '../../benchmarks/postgres-omop.js';
