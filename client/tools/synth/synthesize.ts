/**
 * Writes synthetic OMOP sites to files: each site's tables are built inside an in-memory DuckDB and copied out
 * with `COPY (SELECT … ORDER BY <key>) TO …`, so files are byte-identical for the same options whatever the
 * thread scheduling.
 */
import { writeVocabulary } from './vocabulary.js';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';

import { OMOP_ORDER_BY, OMOP_TABLES } from './omop-schema.js';
import type { OmopTable } from './omop-schema.js';
import { compileSynthOptions } from './options.js';
import type { SynthFormat, SynthOptions } from './options.js';
import { prepareSite } from './site-tables.js';
import type { PreparedSite } from './site-tables.js';
import type { SiteProfile } from './site-profile.js';
import { sqlIdentifier, sqlStringLiteral } from './sql-text.js';

export interface SynthSiteReport {
  /** `site-<index>`, also the folder name. */
  name: string;
  dir: string;
  /** How this site's population differs from the others. */
  profile: SiteProfile;
  /** Rows written per table. */
  tables: Record<string, number>;
}

export interface SynthReport {
  sites: SynthSiteReport[];
  totalRows: number;
  elapsedMs: number;
  /** All rows of all tables and sites divided by the elapsed time. */
  rowsPerSecond: number;
  /**
   * CPU time this process spent (all DuckDB threads), a steadier measure than `elapsedMs` on a shared machine:
   * `totalRows / (cpuMs / cores)` is the throughput the run would reach with `cores` idle cores.
   */
  cpuMs: number;
}

/**
 * Writes `outDir/site-1 … site-N`, each holding `<table>.csv` or `<table>.parquet` for the OMOP tables person,
 * observation_period, visit_occurrence, condition_occurrence, drug_exposure, measurement and death.
 * `persons` is per site. Person IDs are `site * 1e9 + n`, unique across sites.
 * @throws TypeError or RangeError for bad options, naming the option.
 */
export async function synthesize(options: SynthOptions): Promise<SynthReport> {
  const opts = compileSynthOptions(options);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const outDir = resolve(opts.outDir);
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const conn = await instance.connect();
    try {
      const sites: SynthSiteReport[] = [];
      for (let siteIndex = 1; siteIndex <= opts.sites; siteIndex++) {
        const name = `site-${siteIndex}`;
        const dir = join(outDir, name);
        await mkdir(dir, { recursive: true });
        const schema = `synth_site_${siteIndex}`;
        try {
          const site = await prepareSite(conn, { siteIndex, persons: opts.persons, seed: opts.seed, schema });
          const tables: Record<string, number> = {};
          for (const table of OMOP_TABLES) {
            tables[table] = await copyTable(conn, site, table, join(dir, `${table}.${opts.format}`), opts.format);
          }
          Object.assign(tables, await writeVocabulary(conn, dir, opts.format));
          sites.push({ name, dir, profile: site.profile, tables });
        } finally {
          await conn.run(`DROP SCHEMA IF EXISTS ${sqlIdentifier(schema, 'schema')} CASCADE`);
        }
      }
      const totalRows = sites.reduce((sum, s) => sum + Object.values(s.tables).reduce((a, b) => a + b, 0), 0);
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuStart);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      return { sites, totalRows, elapsedMs, rowsPerSecond: elapsedMs > 0 ? (totalRows * 1000) / elapsedMs : 0, cpuMs };
    } finally {
      conn.disconnectSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Streams one table's SELECT, in primary-key order, straight into its file; returns the rows written. */
async function copyTable(conn: DuckDBConnection, site: PreparedSite, table: OmopTable, path: string, format: SynthFormat): Promise<number> {
  const formatOptions = format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet';
  const { sql, params } = site.query(table);
  const reader = await conn.runAndReadAll(
    `COPY (SELECT * FROM (${sql}) ORDER BY ${OMOP_ORDER_BY[table]}) TO ${sqlStringLiteral(path)} (${formatOptions})`,
    params,
  );
  return Number(reader.getRows()[0]?.[0] ?? 0);
}
