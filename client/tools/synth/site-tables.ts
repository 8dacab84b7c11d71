/**
 * Builds one synthetic site's OMOP tables inside a DuckDB connection. Everything is done by DuckDB; the only
 * values passed in (seed, sizes, the site profile) are bound parameters.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';

import { conditionEventsSql, omopSelects } from './events-sql.js';
import type { SiteTableNames } from './events-sql.js';
import { OMOP_TABLES } from './omop-schema.js';
import type { OmopTable } from './omop-schema.js';
import { PERSON_ID_STRIDE, personWideSql } from './person-sql.js';
import { paramsFor } from './random-sql.js';
import { siteProfile } from './site-profile.js';
import type { SiteProfile } from './site-profile.js';
import { sqlIdentifier } from './sql-text.js';

/** The largest site index: person IDs stay far inside BIGINT even after the composite event IDs multiply them. */
export const MAX_SITES = 1000;
/** The most persons per site: person IDs of a site must stay below the next site's block. */
export const MAX_PERSONS = PERSON_ID_STRIDE - 1;

export interface SiteTablesOptions {
  /** 1-based site index; sets the site's profile and its block of person IDs. */
  siteIndex: number;
  persons: number;
  seed: number;
  /**
   * Schema the tables are created in; it is created when missing.
   * @default 'main'
   */
  schema?: string;
  /**
   * Prefix for the table names (e.g. `site1_` gives `site1_person`).
   * @default ''
   */
  tablePrefix?: string;
}

export interface SiteTables {
  readonly profile: SiteProfile;
  /** Quoted, schema-qualified name of each OMOP table. */
  readonly tables: Readonly<Record<OmopTable, string>>;
  readonly rows: Readonly<Record<OmopTable, number>>;
}

/** A site whose intermediate tables exist in a connection, ready to be turned into OMOP tables or files. */
export interface PreparedSite {
  readonly profile: SiteProfile;
  /** The SELECT yielding each OMOP table, and the bound parameters it needs. */
  query(table: OmopTable): { sql: string; params: Record<string, DuckDBValue> };
  /** Drops the intermediate tables (not `visit_occurrence`, which is one of the outputs). */
  dropIntermediates(): Promise<void>;
}

/**
 * Builds the intermediate tables of one site (wide person rows, condition events) and `visit_occurrence`, which
 * the measurements read back. Callers then run `query(table)` for each OMOP table and `dropIntermediates()`.
 */
export async function prepareSite(conn: DuckDBConnection, options: SiteTablesOptions): Promise<PreparedSite & { tables: Record<OmopTable, string> }> {
  checkInteger(options.siteIndex, 'options.siteIndex', 1, MAX_SITES);
  checkInteger(options.persons, 'options.persons', 1, MAX_PERSONS);
  checkInteger(options.seed, 'options.seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const schema = sqlIdentifier(options.schema ?? 'main', 'schema');
  const prefix = options.tablePrefix ?? '';
  if (prefix !== '') sqlIdentifier(prefix, 'tablePrefix');
  const name = (table: string): string => `${schema}.${sqlIdentifier(`${prefix}${table}`, 'tablePrefix')}`;
  const tables = Object.fromEntries(OMOP_TABLES.map((t) => [t, name(t)])) as Record<OmopTable, string>;
  const names: SiteTableNames = {
    wide: name('_synth_person_wide'),
    conditionEvents: name('_synth_condition_events'),
    visitOccurrence: tables.visit_occurrence,
  };
  const profile = siteProfile(options.siteIndex, options.seed);
  const params: Record<string, DuckDBValue> = {
    seed: BigInt(options.seed),
    idBase: BigInt(options.siteIndex) * BigInt(PERSON_ID_STRIDE),
    persons: BigInt(options.persons),
    ageMean: profile.ageMeanYears,
    ageSd: profile.ageSdYears,
    whiteShare: profile.whiteShare,
    dmShift: profile.diabetesShift,
    cardioShift: profile.cardioShift,
    respShift: profile.respiratoryShift,
  };
  const selects = omopSelects(names);
  const dropIntermediates = async (): Promise<void> => {
    await conn.run(`DROP TABLE IF EXISTS ${names.wide}`);
    await conn.run(`DROP TABLE IF EXISTS ${names.conditionEvents}`);
  };
  const run = async (sql: string): Promise<void> => {
    await conn.run(sql, paramsFor(sql, params));
  };
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  try {
    await run(personWideSql(names.wide));
    await run(conditionEventsSql(names));
    await run(`CREATE OR REPLACE TABLE ${tables.visit_occurrence} AS ${selects.visit_occurrence}`);
  } catch (error) {
    await dropIntermediates();
    throw error;
  }
  return {
    profile,
    tables,
    query: (table) => {
      const sql = table === 'visit_occurrence' ? `SELECT * FROM ${tables.visit_occurrence}` : selects[table];
      return { sql, params: paramsFor(sql, params) };
    },
    dropIntermediates,
  };
}

/**
 * Creates (or replaces) `person`, `observation_period`, `visit_occurrence`, `condition_occurrence`,
 * `drug_exposure`, `measurement` and `death` for one synthetic site in `conn`. Rows are not sorted; order by the
 * primary key when the order matters.
 * @throws RangeError or TypeError for bad options, naming the option.
 */
export async function createSiteTables(conn: DuckDBConnection, options: SiteTablesOptions): Promise<SiteTables> {
  const site = await prepareSite(conn, options);
  const rows = {} as Record<OmopTable, number>;
  try {
    for (const table of OMOP_TABLES) {
      if (table !== 'visit_occurrence') {
        const { sql, params } = site.query(table);
        await conn.run(`CREATE OR REPLACE TABLE ${site.tables[table]} AS ${sql}`, params);
      }
      const reader = await conn.runAndReadAll(`SELECT count(*) FROM ${site.tables[table]}`);
      rows[table] = Number(reader.getRows()[0]?.[0] ?? 0);
    }
  } finally {
    await site.dropIntermediates();
  }
  return { profile: site.profile, tables: site.tables, rows };
}

export function checkInteger(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
