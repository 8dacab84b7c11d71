export { ingestFhir, type FhirIngestOptions, type FhirIngestReport } from './ingest-fhir.js';
export { FHIR_TABLES } from './flatten.js';
export { OMOP_FROM_FHIR_TABLES, type ConceptMappingState } from './to-omop.js';
