/** The agent's data catalog: product manifests, semantic defaults and privacy-safe quality metrics. */
export { MANIFEST_FILE, MAX_MANIFEST_BYTES, loadManifest, parseManifest, type ManifestLoadResult } from './manifest.js';
export { describeProducts, type DescribeOptions } from './defaults.js';
export { computeQualityMetrics, type DateCoverage, type QualityMetrics, type QualityOptions } from './quality.js';
export {
  coarsenCount, coarsenFraction, dateBuckets, finestSafeLabel, roundTwoSignificant,
  type CoarseCount, type DateBuckets, type DateGranularity,
} from './disclosure.js';
export { inferSemanticType, semanticTypeFits } from './semantic-types.js';
export {
  CATALOG_JOB_KINDS, SEMANTIC_TYPES, SENSITIVITY_LEVELS,
  type CatalogJobKind, type ColumnDescription, type ConceptMappingState, type ManifestColumn, type ManifestIssue,
  type ManifestProduct, type ProductDescription, type ProductManifest, type ProductProfile, type ProductSchema,
  type SemanticType, type SensitivityLevel,
} from './types.js';
