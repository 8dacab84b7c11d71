import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { detectFormats, ingestFhir, ingestOmop } from './formats.js';
import { ingestTabularFolder, type IngestedFile } from './ingest.js';
import { INTERNAL_PREFIX } from './products.js';

export interface FolderIngestReport {
  files: IngestedFile[];
  removed: string[];
  /** One line per standard-format group: what was loaded, or why not (the previous data is kept). */
  formats: { kind: string; action: 'loaded' | 'unchanged' | 'failed'; products?: string[]; error?: string; warnings?: number; conceptMapping?: Record<string, string> }[];
}

const FINGERPRINTS = `${INTERNAL_PREFIX}format_ingest`;

async function fingerprint(files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of [...files].sort()) {
    const s = await stat(f);
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

/**
 * Ingests an agent's data folder by format: OMOP CDM tables (validated against the CDM, one transaction), FHIR R4
 * bundles and Bulk NDJSON (flattened and mapped to OMOP-shaped tables), and any other CSV/Parquet file as a product
 * of its own. Each group is loaded again only when one of its files changed; a failed group keeps the data it had.
 */
export async function ingestDataFolder(conn: DuckDBConnection, dataDir: string): Promise<FolderIngestReport> {
  await conn.run(`CREATE TABLE IF NOT EXISTS ${FINGERPRINTS} (kind VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL)`);
  const detected = await detectFormats(dataDir);
  const formats: FolderIngestReport['formats'] = [];
  const known = async (kind: string, fp: string): Promise<boolean> => {
    const r = await conn.runAndReadAll(`SELECT fingerprint FROM ${FINGERPRINTS} WHERE kind = $1`, [kind]);
    return r.getRowObjectsJS()[0]?.fingerprint === fp;
  };
  const remember = (kind: string, fp: string): Promise<void> => conn.run(`INSERT OR REPLACE INTO ${FINGERPRINTS} VALUES ($1, $2)`, [kind, fp]).then(() => undefined);

  let omop = detected.find((d) => d.kind === 'omop');
  const extraTabular: string[] = [];
  // A CDM needs both person and observation_period; a lone person.csv is an ordinary table, not an OMOP folder.
  if (omop && !['person', 'observation_period'].every((t) => omop!.files.some((f) => basename(f).toLowerCase().replace(/\.(csv|parquet|tsv)$/, '').endsWith(t)))) {
    extraTabular.push(...omop.files);
    omop = undefined;
  }
  if (omop) {
    const fp = await fingerprint(omop.files);
    if (await known('omop', fp)) formats.push({ kind: 'omop', action: 'unchanged' });
    else {
      try {
        const r = await ingestOmop(conn, omop.files);
        await remember('omop', fp);
        formats.push({ kind: `omop ${omop.version}`, action: 'loaded', products: r.products, warnings: r.issues.length });
      } catch (e) {
        formats.push({ kind: 'omop', action: 'failed', error: (e as Error).message });
      }
    }
  }
  const bundles = detected.find((d) => d.kind === 'fhir-bundle')?.files ?? [];
  const ndjson = detected.find((d) => d.kind === 'fhir-ndjson')?.files ?? [];
  if (bundles.length + ndjson.length > 0) {
    const fp = await fingerprint([...bundles, ...ndjson]);
    if (await known('fhir', fp)) formats.push({ kind: 'fhir', action: 'unchanged' });
    else {
      try {
        // With an OMOP folder present, the FHIR data stays in its flat fhir_* tables (no OMOP mapping on top).
        const r = await ingestFhir(conn, bundles, ndjson, { mapToOmop: !omop });
        await remember('fhir', fp);
        formats.push({ kind: 'fhir', action: 'loaded', products: r.products, warnings: r.issues.length, conceptMapping: r.conceptMapping });
      } catch (e) {
        formats.push({ kind: 'fhir', action: 'failed', error: (e as Error).message });
      }
    }
  }
  const tabular = [...(detected.find((d) => d.kind === 'tabular')?.files ?? []), ...extraTabular];
  const r = await ingestTabularFolder(conn, dataDir, tabular.map((f) => relative(dataDir, f)));
  return { files: r.files, removed: r.removed, formats };
}
