import type { DuckDBConnection } from '@duckdb/node-api';
import type { ProductRules } from '../../../common/job/index.js';
import type { FolderIngestReport } from '../ingest-folder.js';
import type { ProductInfo } from '../products.js';
import { CONCEPT_TABLE } from '../vocabulary.js';
import { VOCABULARY_COMPLETE } from '../../../common/job/index.js';
import { describeProducts } from './defaults.js';
import { loadManifest } from './manifest.js';
import { computeQualityMetrics } from './quality.js';
import { FedmeshError } from '../../../common/errors.js';

/** What an agent publishes about one product (the registration's description, privacy unit and metadata). */
export interface PublishedDescription {
  description: string;
  privacyUnit: string | undefined;
  metadata: Record<string, unknown>;
}

/** The agent's catalogue state that {@link publishCatalog} rebuilds after every ingest. */
export interface CatalogState {
  readonly products: ProductInfo[];
  readonly descriptions: Map<string, PublishedDescription>;
  readonly rules: Map<string, ProductRules>;
  /** Quality metrics scan whole tables: kept per product and reused while its data and unit are unchanged. */
  readonly qualityCache: Map<string, { unit: string | undefined; quality: unknown }>;
}

export interface PublishOptions {
  readonly dataDir: string;
  readonly defaultOwner: string;
  /** The agent's name: the site a product's linkage key is bound to. */
  readonly site: string;
  readonly minCellSize: number;
  readonly vocabularyComplete: boolean;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
  /** Why quality metrics are not computed here (they scan DuckDB tables; a PostgreSQL source has none). */
  readonly qualityUnavailable?: string;
}

/**
 * Builds the catalog entries an agent publishes: manifest (fedmesh.products.json) over OMOP/FHIR defaults, and
 * quality metrics coarsened so that no exact small number leaves the domain. Sets each product's privacy unit and
 * linkage from the description, so contribution bounding and cell sizes use the unit the catalog publishes.
 * @returns the manifest's issues (logged already)
 */
export async function publishCatalog(conn: DuckDBConnection, ingest: FolderIngestReport, state: CatalogState, opts: PublishOptions): Promise<{ message: string }[]> {
  const schema = state.products.map((p) => ({ name: p.name, columns: p.columns }));
  const { manifest, issues } = await loadManifest(opts.dataDir, schema);
  for (const i of issues) opts.log('manifest-issue', { message: i.message });
  const conceptMapping = Object.assign({}, ...ingest.formats.map((f) => f.conceptMapping ?? {})) as Record<string, 'mapped' | 'source-only' | 'partial'>;
  const described = describeProducts(schema, manifest, { defaultOwner: opts.defaultOwner, conceptMapping });
  state.descriptions.clear();
  state.rules.clear();
  const changed = new Set<string>([
    ...ingest.removed,
    ...ingest.files.filter((f) => f.action === 'loaded').map((f) => f.product),
    ...ingest.formats.filter((f) => f.action === 'loaded').flatMap((f) => f.products ?? []),
  ]);
  for (const name of [...state.qualityCache.keys()]) if (!state.products.some((p) => p.name === name)) state.qualityCache.delete(name);
  for (const d of described) {
    state.rules.set(d.name, {
      privacyUnit: d.privacyUnit,
      allowedJobKinds: d.allowedJobKinds,
      allowedPrivacyModes: d.allowedPrivacyModes,
      bounds: d.bounds,
      semanticTypes: Object.fromEntries(d.columns.map((c) => [c.name, c.semanticType])),
      sensitivity: d.sensitivity,
    });
    const product = state.products.find((p) => p.name === d.name);
    if (product) product.privacyUnit = d.privacyUnit;
    if (product) product.linkage = d.linkageKey ? { column: d.linkageKey, site: opts.site } : undefined;
    const cached = state.qualityCache.get(d.name);
    let quality: unknown;
    if (cached && !changed.has(d.name) && cached.unit === d.privacyUnit) quality = cached.quality;
    else if (opts.qualityUnavailable !== undefined) quality = { computed: false, reason: opts.qualityUnavailable };
    else {
      try {
        quality = await computeQualityMetrics(conn, d, { minCellSize: opts.minCellSize });
      } catch (e) {
        // Published: never the engine's text, which can quote a value.
        quality = { error: e instanceof FedmeshError ? e.message : 'quality metrics could not be computed' };
      }
      state.qualityCache.set(d.name, { unit: d.privacyUnit, quality });
    }
    const { name: _n, columns, privacyUnit: _u, description: _d, ...rest } = d;
    const vocabulary = d.name === CONCEPT_TABLE && opts.vocabularyComplete ? { vocabulary: VOCABULARY_COMPLETE } : {};
    state.descriptions.set(d.name, { description: d.description, privacyUnit: d.privacyUnit, metadata: { ...rest, ...vocabulary, semanticTypes: Object.fromEntries(columns.map((c) => [c.name, c.semanticType])), quality } });
  }
  return issues;
}
