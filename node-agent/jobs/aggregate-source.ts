/**
 * An aggregate job on an agent whose data lives in a site's PostgreSQL. The server does the selective part — the
 * job's `where` filters, pushed down as bound parameters through the dialect layer, and the projection to the few
 * columns the job reads — on the consent-scoped tables of the task's session; the rows that remain are read through
 * a cursor, batch by batch, into a TEMP table of the agent's own DuckDB named like the product (they never leave
 * the agent). The statistics, contribution bounding and every disclosure check then run as for a DuckDB agent, on
 * the same rows, so both give the same answer by construction (test/integration/postgres-jobs.test.ts checks it on
 * GiBleed). Values cross as text and are cast back to the product's published types: PostgreSQL prints doubles in
 * their shortest exact form, so nothing is rounded on the way.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import type { AggregateJob, Filter } from '../../common/job/spec.js';
import { quoteIdent } from '../data/database.js';
import type { ProductInfo } from '../data/products.js';
import { DEFAULT_BATCH_ROWS, type SqlSession } from '../data/source/index.js';
import type { SqlParam } from '../data/source/source.js';
import { SQL_TYPES, type SqlType } from '../sql/index.js';
import { filterSql } from '../query/aggregate-sql.js';

const LOCAL_TYPE: Record<string, string> = { BIGINT: 'BIGINT', INTEGER: 'INTEGER', DOUBLE: 'DOUBLE', DATE: 'DATE', TIMESTAMP: 'TIMESTAMP', BOOLEAN: 'BOOLEAN' };

/** The product's columns the job reads, in the product's order (unknown names are left to the job's own checks). */
export function readColumns(job: Pick<AggregateJob, 'where' | 'groupBy' | 'measures'>, product: ProductInfo): ProductInfo['columns'] {
  const names = new Set([...job.where.map((f) => f.column), ...job.groupBy, ...job.measures.flatMap((m) => ('column' in m && typeof m.column === 'string' ? [m.column] : []))]);
  if (product.privacyUnit) names.add(product.privacyUnit);
  if (product.linkage) names.add(product.linkage.column);
  const lower = new Set([...names].map((n) => n.toLowerCase()));
  return product.columns.filter((c) => lower.has(c.name.toLowerCase()));
}

/**
 * Stages the job's rows of `product` from `data` into local TEMP table `product.name` on `local`, runs `fn`, and
 * drops the table.
 * @throws FedmeshError INVALID_JOB naming the field for a filter on an unknown column
 */
export function withStagedRows<T>(data: SqlSession, local: DuckDBConnection, job: AggregateJob, product: ProductInfo, fn: () => Promise<T>, batchRows = DEFAULT_BATCH_ROWS): Promise<T> {
  return withStagedColumns(data, local, product, readColumns(job, product), job.where, fn, batchRows);
}

/**
 * Stages columns `cols` of `product` (the rows passing `filters`, pushed down) from `data` into local TEMP table
 * `product.name` on `local`, runs `fn`, and drops the table. Kinds whose SQL is written for DuckDB (contingency) run
 * unchanged on it; their own filters apply again there.
 */
export async function withStagedColumns<T>(data: SqlSession, local: DuckDBConnection, product: ProductInfo, columns: ProductInfo['columns'], filters: readonly Filter[], fn: () => Promise<T>, batchRows = DEFAULT_BATCH_ROWS, ordered = false): Promise<T> {
  const d = data.dialect;
  const cols = columns.length > 0 ? [...columns] : product.columns.slice(0, 1);
  const params: SqlParam[] = [];
  const param = (v: string | number | boolean, castTo?: string): string => {
    params.push(v);
    const t = castTo?.toUpperCase();
    const ph = d.placeholder(params.length);
    return t && (SQL_TYPES as readonly string[]).includes(t) ? d.cast(ph, t as SqlType) : ph;
  };
  const where = filters.map((f, i) => filterSql(f, product, `where[${i}]`, param));
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
