export { ingestOmop, createTableSql, type OmopIngestOptions, type OmopIngestReport } from './ingest-omop.js';
export {
  ALL_CDM_TABLE_NAMES, CORE_TABLES, REQUIRED_TABLES, duckdbType, omopTable, omopTableNames,
  type OmopColumn, type OmopColumnType, type OmopTable, type OmopVersion,
} from './cdm-spec.js';
export { detectOmopVersion, resolveOmopTable } from './table-files.js';
export { formatIssue, type FormatIngestReport, type IngestIssue } from './report.js';
