/**
 * Deterministic synthetic OMOP CDM v5.4 sites, generated entirely by DuckDB SQL: files for `fedmesh synth` and
 * the demo, tables inside a DuckDB connection for tests, and a large flat table for benchmarks.
 */
export { synthesize } from './synthesize.js';
export type { SynthReport, SynthSiteReport } from './synthesize.js';
export { compileSynthOptions } from './options.js';
export type { CompiledSynthOptions, SynthFormat, SynthOptions } from './options.js';
export { createSiteTables, MAX_PERSONS, MAX_SITES } from './site-tables.js';
export type { SiteTables, SiteTablesOptions } from './site-tables.js';
export { siteProfile } from './site-profile.js';
export type { SiteProfile } from './site-profile.js';
export { synthesizeLargeTable } from './large-table.js';
export type { LargeTableOptions } from './large-table.js';
export { LARGE_TABLE_VALUE_BOUNDS } from './large-table.js';
export { OMOP_ORDER_BY, OMOP_SCHEMA, OMOP_TABLES } from './omop-schema.js';
export type { OmopColumnType, OmopTable } from './omop-schema.js';
export { CONDITIONS, DRUGS, LABS } from './concepts.js';
export { PERSON_ID_STRIDE, REFERENCE_DATE } from './person-sql.js';
