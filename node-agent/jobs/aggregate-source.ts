/**
 * Jobs on an agent whose data lives in a site's PostgreSQL, and what their agent's own DuckDB still needs from there.
 *
 * Aggregate jobs run on the server (node-agent/query/group-statistics.ts through the dialect layer: filters, public
 * group keys, contribution bounding, statistics, persons per cell); only the per-group rows come back. In mode none
 * the differencing guard needs the person sets of the cells about to be released: `candidateCellsFromSource`
 * streams those (cell, person) pairs through a cursor into the agent's DuckDB, where they are hashed and checked
 * exactly as on a DuckDB agent; they never leave the agent.
 *
 * Specs the server cannot count exactly (a contingency on a DATE column, or without a privacy unit) stage the columns
 * they read: `withStagedColumns`
 * reads the rows that pass the job's filters (pushed down) through a cursor into a TEMP table of the agent's DuckDB
 * named like the product. Values cross as text and are cast back to the product's published types: PostgreSQL prints
 * doubles in their shortest exact form (pinned, data/source/session-settings.ts), so nothing is rounded on the way.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import type { Filter } from '../../common/job/index.js';
import { quoteIdent } from '../data/database.js';
import type { ProductInfo } from '../data/products.js';
import { DEFAULT_BATCH_ROWS, type SqlSession } from '../data/source/index.js';
import type { SqlParam } from '../data/source/source.js';
import { paramBinder } from '../sql/index.js';
import { filterSql, groupLabelSql } from '../query/aggregate-sql.js';
import type { GroupStatistics } from '../query/group-statistics.js';
import { hashPairsFromSource } from '../disclosure/source-pairs.js';

const LOCAL_TYPE: Record<string, string> = { BIGINT: 'BIGINT', INTEGER: 'INTEGER', DOUBLE: 'DOUBLE', DATE: 'DATE', TIMESTAMP: 'TIMESTAMP', BOOLEAN: 'BOOLEAN' };

/**
 * Stages columns `cols` of `product` (the rows passing `filters`, pushed down; with `memberOf`, only rows whose
 * privacy unit is in that server TEMP table's subject_id) from `data` into local TEMP table `product.name` on
 * `local`, runs `fn`, and drops the table. Kinds whose SQL is written for DuckDB (contingency) run
 * unchanged on it; their own filters apply again there.
 */
export async function withStagedColumns<T>(data: SqlSession, local: DuckDBConnection, product: ProductInfo, columns: ProductInfo['columns'], filters: readonly Filter[], fn: () => Promise<T>, batchRows = DEFAULT_BATCH_ROWS, ordered = false, memberOf?: { readonly table: string; readonly unit: string }): Promise<T> {
  const d = data.dialect;
  const cols = columns.length > 0 ? [...columns] : product.columns.slice(0, 1);
  const params: SqlParam[] = [];
  const param = paramBinder(d, params);
  const where = filters.map((f, i) => filterSql(f, product, `where[${i}]`, param, d));
  // Only the members of a cohort built on the server (its TEMP table `memberOf.table`, column subject_id).
  if (memberOf) where.push(`${d.quoteIdent(memberOf.unit)} IN (SELECT subject_id FROM ${d.tempTable(memberOf.table)})`);
  const sql = `SELECT ${cols.map((c) => `${d.cast(d.quoteIdent(c.name), 'VARCHAR')} AS ${d.quoteIdent(`v${cols.indexOf(c)}`)}`).join(', ')} FROM ${d.quoteIdent(product.name)}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}${ordered ? ` ORDER BY ${cols.map((_, i) => i + 1).join(', ')}` : ''}`;
  const staging = `fedmesh_stage_${randomBytes(6).toString('hex')}`;
  const target = quoteIdent(product.name);
  await local.run(`CREATE TEMP TABLE "${staging}" (${cols.map((_, i) => `v${i} VARCHAR`).join(', ')})`);
  try {
    const appender = await local.createAppender(staging, 'main', 'temp');
    try {
      for await (const rows of data.stream(sql, params, { batchRows })) {
        for (const r of rows) {
          for (let i = 0; i < cols.length; i++) {
            const v = r[`v${i}`];
            if (v === null || v === undefined) appender.appendNull();
            else appender.appendVarchar(String(v));
          }
          appender.endRow();
        }
        appender.flushSync();
      }
    } catch (e) {
      if (e instanceof FedmeshError) throw e;
      throw new FedmeshError('INVALID_JOB', `the query could not run on product ${product.name}`, { cause: e });
    } finally {
      appender.closeSync();
    }
    const typed = cols.map((c, i) => `CAST(v${i} AS ${LOCAL_TYPE[c.type.toUpperCase()] ?? 'VARCHAR'}) AS ${quoteIdent(c.name)}`);
    await local.run(`CREATE OR REPLACE TEMP TABLE ${target} AS SELECT ${typed.join(', ')} FROM "${staging}"`);
  } finally {
    await local.run(`DROP TABLE IF EXISTS "${staging}"`).catch(() => undefined);
  }
  try {
    return await fn();
  } finally {
    await local.run(`DROP TABLE IF EXISTS temp.main.${target}`).catch(() => undefined);
  }
}

/**
 * A whole product staged for a registry kind whose agent step reads it by name (glm): every column, in a stable
 * order (by every column), so the local `rowid` some steps rank rows by is the same on every round and run over the
 * same data. Its rows are not the ones a DuckDB agent with the same data would rank first (that one's `rowid` is its
 * ingest order); the bound itself, k rows per person, holds the same.
 */
export function withStagedProduct<T>(data: SqlSession, local: DuckDBConnection, product: ProductInfo, fn: () => Promise<T>): Promise<T> {
  return withStagedColumns(data, local, product, product.columns, [], fn, DEFAULT_BATCH_ROWS, true);
}

/**
 * The rows of the public `concept` table with the ids a concept-names task asks for (at most the task's bounded list;
 * none when it asks for none), staged from the server so the DuckDB lookup runs unchanged.
 */
export function withStagedConcepts<T>(data: SqlSession, local: DuckDBConnection, products: readonly ProductInfo[], ids: readonly number[] | undefined, fn: () => Promise<T>): Promise<T> {
  const product = products.find((p) => p.name === 'concept');
  const wanted = (ids ?? []).filter((id) => Number.isSafeInteger(id));
  if (!product || wanted.length === 0) return fn();
  const cols = product.columns.filter((c) => c.name === 'concept_id' || c.name === 'concept_name');
  return withStagedColumns(data, local, product, cols, [{ column: 'concept_id', op: 'in', value: wanted }], fn);
}

/**
 * Mode none on PostgreSQL: the person sets of the cells about to be released (groups and released histogram bins of
 * at least `k` persons), from the job's rows in server TEMP table `rows`, as local TEMP table `(cell, h)` of keyed
 * person hashes for the differencing guard — the same rule and the same hash as the DuckDB agent's. Returns its name.
 */
export async function candidateCellsFromSource(data: SqlSession, local: DuckDBConnection, rows: string, stats: GroupStatistics, salt: string, k: number, batchRows = DEFAULT_BATCH_ROWS): Promise<string> {
  const d = data.dialect;
  const label = groupLabelSql(stats.plan.keyCount, d);
  const t = d.tempTable(rows);
  // The server's own text of the unit, as every kind on a PostgreSQL agent hashes it for the guard.
  const u = d.cast('u', 'VARCHAR');
  const parts = [`SELECT ${label} AS cell, ${u} AS u FROM ${t} WHERE u IS NOT NULL`];
  for (const i of stats.plan.histogramMeasures) parts.push(`SELECT ${d.concat([label, `'#m${i}b'`, d.cast(`b${i}`, 'VARCHAR')])}, ${u} FROM ${t} WHERE u IS NOT NULL AND b${i} IS NOT NULL`);
  const sql = `WITH x AS (SELECT DISTINCT cell, u FROM (${parts.join(' UNION ALL ')}) AS p) SELECT cell, u FROM x WHERE cell IN (SELECT cell FROM x GROUP BY cell HAVING count(*) >= ${d.placeholder(1)})`;
  const table = `${rows}_cells`;
  await hashPairsFromSource(data, local, { sql, params: [k], batchRows }, salt, table);
  return table;
}
