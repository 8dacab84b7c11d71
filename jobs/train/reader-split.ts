/**
 * A hash split at the agent (hash-split.ts): the side of each row computed in the database from the row's privacy
 * unit — `keyedHash(salt, [unit])` of the SQL dialect layer, compared as text with the public threshold — into a
 * task-private TEMP table that the design reader then reads like any product with a split column. No row and no
 * unit ever reaches JavaScript for this. The TEMP table holds only the columns the job reads (label, features,
 * `where` columns, the unit), so a wide product is not copied whole.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError, invalidJob } from '../../common/errors.js';
import type { SchemaProduct, Filter } from '../../common/job/index.js';
import { asSession } from '../../node-agent/cohort/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { filterSql } from '../../node-agent/query/aggregate-sql.js';
import { paramBinder, tempTableStatements, type SqlDialect } from '../../node-agent/sql/index.js';
import { testThresholdHex, type HashSplit } from './hash-split.js';

/** The side column the TEMP table adds: 'train' or 'test' (NULL for a row without a unit, which is then dropped). */
export const HASH_SPLIT_COLUMN = 'fedmesh_split_side';
export const HASH_SPLIT_TRAIN = 'train';
export const HASH_SPLIT_TEST = 'test';

/**
 * The rows a stage copies (the job's `where` and cohort, pushed into the stage so that a server copies only them;
 * the design reader applies both again on the stage).
 */
export interface StageScope {
  readonly where: readonly Filter[];
  /** A TEMP table (subject_id) of the cohort's members, on the same session. */
  readonly memberOf?: string;
}

/** The WHERE clause of a stage's SELECT for `scope` over `product`, its values bound through `param`. */
export function stageWhere(d: SqlDialect, product: SchemaProduct, scope: StageScope | undefined, param: (v: string | number | boolean, castTo?: string) => string): string {
  if (!scope) return '';
  const conds = scope.where.map((f, i) => filterSql(f, product, `where[${i}]`, param, d));
  if (scope.memberOf !== undefined && product.privacyUnit) conds.push(`${d.quoteIdent(product.privacyUnit)} IN (SELECT subject_id FROM ${d.tempTable(scope.memberOf)})`);
  return conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : '';
}

/**
 * Creates TEMP table `table` with the columns of `product` in `columns` plus the side column, and returns the
 * product the design reader should read instead. The caller drops the table.
 * @throws FedmeshError INVALID_JOB when the product has no privacy unit or already has the side column
 */
export async function stageHashSplit(db: DuckDBConnection | SqlSession, product: SchemaProduct, split: HashSplit, columns: ReadonlySet<string>, table: string, scope?: StageScope): Promise<SchemaProduct> {
  const unit = product.privacyUnit;
  if (!unit) throw invalidJob('split.hash', `product ${product.name} declares no privacy unit to split on; use a split column`);
  if (product.columns.some((c) => c.name === HASH_SPLIT_COLUMN)) throw invalidJob('split.hash', `product ${product.name} has a column named ${HASH_SPLIT_COLUMN}; use a split column`);
  // Columns the job names that the product lacks are left out here, so the design reader names them as missing.
  const kept = product.columns.filter((c) => columns.has(c.name) || c.name === unit);
  const session = asSession(db);
  const d = session.dialect;
  const u = d.quoteIdent(unit);
  // The hex digests compare by their bytes on every engine (a server's collation must not reorder them).
  const hash = d.binaryOrder(d.keyedHash(d.cast(d.placeholder(1), 'VARCHAR'), [u]));
  const side = `CASE WHEN ${u} IS NULL THEN NULL WHEN ${hash} < ${d.binaryOrder(d.cast(d.placeholder(2), 'VARCHAR'))} THEN '${HASH_SPLIT_TEST}' ELSE '${HASH_SPLIT_TRAIN}' END`;
  const params: (string | number | boolean)[] = [split.salt, testThresholdHex(split.fraction)];
  const select = `SELECT ${[...kept.map((c) => d.quoteIdent(c.name)), `${side} AS ${d.quoteIdent(HASH_SPLIT_COLUMN)}`].join(', ')} FROM ${d.quoteIdent(product.name)}${stageWhere(d, product, scope, paramBinder(d, params))}`;
  try {
    for (const st of tempTableStatements(d, table, select, params)) await session.run(st.sql, st.params);
  } catch (e) {
    // Engine messages can quote data values; they stay in `cause`, for the agent's own logs only.
    throw new FedmeshError('INTERNAL', 'train hash split query failed', { cause: e });
  }
  return { name: table, columns: [...kept, { name: HASH_SPLIT_COLUMN, type: 'VARCHAR' }], privacyUnit: unit };
}
