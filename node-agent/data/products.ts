import type { DuckDBConnection } from '@duckdb/node-api';

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface ProductInfo {
  name: string;
  columns: ColumnInfo[];
  /**
   * The column identifying the privacy unit (person), when the product has one. A name guess here; the agent
   * replaces it with the unit its catalog publishes (manifest over defaults), which is what jobs enforce.
   */
  privacyUnit: string | undefined;
  /** The linkage-key column the catalog publishes and this agent's site name (linkage-bounded jobs only). */
  linkage?: { column: string; site: string } | undefined;
  description: string;
  source: string;
}

export const INTERNAL_PREFIX = '_fedmesh_';
const PRIVACY_UNIT_CANDIDATES = ['person_id', 'patient_id', 'subject_id'];

/** Lists the data products (user tables and views) of the agent's database with their schemas. */
export async function listProducts(conn: DuckDBConnection): Promise<ProductInfo[]> {
  const reader = await conn.runAndReadAll(
    `SELECT c.table_name, c.column_name, c.data_type
       FROM information_schema.columns c
      WHERE c.table_schema = 'main' AND c.table_catalog = current_database()
      ORDER BY c.table_name, c.ordinal_position`,
  );
  const sources = new Map<string, string>();
  try {
    const s = await conn.runAndReadAll(`SELECT product, file FROM ${INTERNAL_PREFIX}ingest`);
    for (const row of s.getRowObjectsJS()) sources.set(String(row.product), String(row.file));
  } catch {
    // no ingest bookkeeping yet
  }
  const byTable = new Map<string, ColumnInfo[]>();
  for (const row of reader.getRowObjectsJS()) {
    const t = String(row.table_name);
    if (t.startsWith(INTERNAL_PREFIX)) continue;
    const cols = byTable.get(t) ?? [];
    cols.push({ name: String(row.column_name), type: String(row.data_type) });
    byTable.set(t, cols);
  }
  return [...byTable.entries()].map(([name, columns]) => ({
    name,
    columns,
    privacyUnit: PRIVACY_UNIT_CANDIDATES.find((c) => columns.some((col) => col.name === c)),
    description: sources.has(name) ? `ingested from ${sources.get(name)}` : 'table',
    source: sources.get(name) ?? '',
  }));
}
