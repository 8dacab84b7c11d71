/**
 * Test support: GiBleed split by person (person_id mod `modulus`, as test/helpers/gibleed-split.ts splits it for
 * DuckDB agents) into PostgreSQL, one CDM schema per site, the vocabulary once in schema `vocab`, read by a read-only
 * role — the layout of sites that keep their CDM on a shared server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { gibleedDir } from '../reference/circe-reference.js';
import type { PgCluster } from './postgres.js';
import { copyDuckDbTablesToPostgres, createReadOnlyRole, loadOmopCsvIntoDuckDb, VOCABULARY_TABLES } from './postgres-omop.js';

/**
 * Loads the persons with `person_id % modulus === residue` into schema `schema`, for each site given; the
 * vocabulary into `vocab`; and creates login role `role` with SELECT on them.
 */
export async function loadGiBleedSites(pg: PgCluster, database: string, modulus: number, sites: readonly { schema: string; residue: number }[], role: { name: string; password: string }): Promise<void> {
  await pg.exec(`CREATE DATABASE ${database}`);
  const tmp = mkdtempSync(join(tmpdir(), 'fedmesh-pg-gibleed-'));
  try {
    for (const [i, site] of sites.entries()) {
      const inst = await DuckDBInstance.create(':memory:');
      const conn = await inst.connect();
      try {
        const tables = await loadOmopCsvIntoDuckDb((sql) => conn.run(sql), gibleedDir);
        for (const t of tables) {
          if (t.columns.includes('person_id')) await conn.run(`DELETE FROM "${t.name}" WHERE person_id IS NULL OR person_id % ${modulus} <> ${site.residue}`);
        }
        const copy = i === 0 ? tables : tables.filter((t) => !VOCABULARY_TABLES.includes(t.name));
        await copyDuckDbTablesToPostgres((sql) => conn.run(sql), copy, pg, database, (t) => (VOCABULARY_TABLES.includes(t) ? 'vocab' : site.schema), tmp);
      } finally {
        conn.closeSync();
        inst.closeSync();
      }
    }
    await createReadOnlyRole(pg, database, role.name, role.password, [...sites.map((s) => s.schema), 'vocab']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The whole of GiBleed in the DuckDB connection `conn` and, value for value, in database `gibleed` of `pg` (the CDM
 * in schema `cdm`, the vocabulary in `vocab`), read by login role `agent` / `agent-pw`: the layout the conformance,
 * job and consent tests compare the two engines on. `tmp` is a scratch folder for the copy.
 */
export async function loadGiBleedBoth(conn: DuckDBConnection, pg: PgCluster, tmp: string): Promise<Awaited<ReturnType<typeof loadOmopCsvIntoDuckDb>>> {
  const tables = await loadOmopCsvIntoDuckDb((sql) => conn.run(sql), gibleedDir);
  await pg.exec('CREATE DATABASE gibleed');
  await copyDuckDbTablesToPostgres((sql) => conn.run(sql), tables, pg, 'gibleed', (t) => (VOCABULARY_TABLES.includes(t) ? 'vocab' : 'cdm'), tmp);
  await createReadOnlyRole(pg, 'gibleed', 'agent', 'agent-pw', ['cdm', 'vocab']);
  return tables;
}
