/**
 * Shared types of the agent's data catalog: what a product manifest may declare and what the agent publishes
 * about each data product.
 */
import { PRIVACY_MODES, type PrivacyMode } from '../../../common/job/index.js';
import type { ConceptMappingState } from '../fhir/to-omop.js';

export type { ConceptMappingState, PrivacyMode };
export { PRIVACY_MODES };

/** What a column means, independent of its storage type. */
export const SEMANTIC_TYPES = [
  /** The row's own key, or the privacy unit (`person_id`, FHIR `id`). */
  'identifier',
  /** A key of another row or resource (`visit_occurrence_id`, FHIR `encounter_id`). */
  'reference',
  'date',
  'datetime',
  /** An OMOP concept id (standard or source). */
  'concept_id',
  /** A source code or coding value (ICD-10, LOINC, `*_source_value`). */
  'code',
  /** A number that is measured or counted; the only kind that carries bounds. */
  'quantity',
  /** A value from a small closed set (gender, status, coding system). */
  'category',
  'text',
  'boolean',
  /** JSON, lists and structs. */
  'structured',
] as const;
export type SemanticType = (typeof SEMANTIC_TYPES)[number];

/** Sensitivity levels, from least to most protected. */
export const SENSITIVITY_LEVELS = ['public', 'internal', 'restricted', 'sensitive'] as const;
export type SensitivityLevel = (typeof SENSITIVITY_LEVELS)[number];

/**
 * Job kinds a product may be opened to. Wider than the job kinds the coordinator implements today, so that a
 * manifest can be written once for the kinds the issue tracker plans (cohorts, characterisation, survival,
 * contingency tables, GLMs, federated learning).
 */
export const CATALOG_JOB_KINDS = ['aggregate', 'cohort', 'characterization', 'survival', 'contingency', 'glm', 'fl'] as const;
export type CatalogJobKind = (typeof CATALOG_JOB_KINDS)[number];

/** The schema of one table or view as DuckDB reports it (a `ProductInfo` from `products.ts` fits). */
export interface ProductSchema {
  name: string;
  columns: ReadonlyArray<{ name: string; type: string }>;
}

/** A column as declared in the manifest. */
export interface ManifestColumn {
  semanticType?: SemanticType;
  description?: string;
}

/** One product's entry in `fedmesh.products.json`; every field optional (defaults fill the rest). */
export interface ManifestProduct {
  description?: string;
  /** Owner domain (a department, a registry). */
  owner?: string;
  columns?: Record<string, ManifestColumn>;
  /** The privacy-unit column; `null` declares that the product has none. */
  privacyUnit?: string | null;
  /**
   * The column holding the privacy-preserving linkage key the sites share (HMAC of a national id under a secret the
   * coordinator never holds): lets aggregate jobs bound a person across sites (`privacy.linkage`).
   */
  linkageKey?: string;
  /**
   * The population (privacy-unit domain) the product belongs to; budgets are kept per population. Absent: `person`,
   * which is right for every product keyed by persons. Declare another only for a unit that is not a person.
   */
  population?: string;
  /** Value bounds per numeric column, `[lo, hi]` with lo < hi: clamping and DP sensitivity. */
  bounds?: Record<string, [number, number]>;
  sensitivity?: SensitivityLevel;
  allowedJobKinds?: CatalogJobKind[];
  allowedPrivacyModes?: PrivacyMode[];
  /** Semantic tags domain policies match on (`resource.tags` in Cedar), e.g. `oncology`, `registry`. */
  tags?: string[];
}

/** A parsed, validated manifest: only entries that passed validation. */
export interface ProductManifest {
  /** Owner domain for products that name none. */
  owner?: string;
  products: Record<string, ManifestProduct>;
}

/** A problem in the manifest: reported, and the offending entry dropped. */
export interface ManifestIssue {
  /** The product the issue is about, when it is about one. */
  product?: string;
  /** Path of the field at fault, e.g. `products.person.bounds.year_of_birth`; `(file)` for the file itself. */
  field: string;
  /** Full message naming the file and the field, ready to log. */
  message: string;
}

export interface ColumnDescription {
  name: string;
  /** DuckDB type as reported by `information_schema`. */
  type: string;
  semanticType: SemanticType;
  description?: string;
}

/** Where the defaults of a product came from. */
export type ProductProfile = 'omop' | 'omop-vocabulary' | 'omop-system' | 'fhir' | 'tabular';

/** What the agent publishes about one data product (defaults merged with the manifest). */
export interface ProductDescription {
  name: string;
  description: string;
  owner: string;
  profile: ProductProfile;
  columns: ColumnDescription[];
  privacyUnit: string | undefined;
  /** The linkage-key column the manifest declares (absent: the product cannot take part in linkage-bounded jobs). */
  linkageKey?: string;
  /** The population the coordinator charges jobs on this product to (`person` unless the manifest declares one). */
  population: string;
  bounds: Record<string, [number, number]>;
  sensitivity: SensitivityLevel;
  allowedJobKinds: CatalogJobKind[];
  /** Privacy modes the product may be used with; absent: every mode the domain policy allows. */
  allowedPrivacyModes?: PrivacyMode[];
  /** Per concept column: whether it holds concept ids, some, or only 0 with source codes beside it. */
  conceptMapping?: Record<string, ConceptMappingState>;
  /** Semantic tags from the manifest (absent when it declares none). */
  tags?: string[];
}
