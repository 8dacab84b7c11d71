/**
 * Test support: a throw-away PostgreSQL cluster. The implementation lives in benchmarks/ (built, so the postgres
 * benchmark can use it too); tests import it from here.
 */
export { postgresBinDir, postgresOsUser, skipWithoutPostgres, startPostgres, type PgCluster } from '../../benchmarks/postgres-cluster.js';
