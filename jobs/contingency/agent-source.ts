/**
 * The `contingency` local step on a site's own database server (issue 13): the counts are one GROUP BY compiled
 * through the dialect layer (node-agent/sql/contingency-counts.ts), run on the server, and only the at most
 * rows × cols + 2 counts come back — no copy of the product in the agent's DuckDB. The rule is the DuckDB step's
 * (node-agent/analytics/contingency.ts): each person in one place (a cell, outside, ambiguous); the vector is the
 * same. Patient consent scopes the server session itself (policy/consent-source.ts), before this runs.
 *
 * Mode none: the persons behind the places this agent will release go through its differencing guard, as on
 * DuckDB — the (place, unit) rows of the candidate places (guardedSetSize) are read through a cursor into a
 * task-private TEMP table of the agent's DuckDB and keyed-hashed there with the same hash, so the guard's memory is
 * shared with every other job. A spec the compiler cannot express exactly (a product without a privacy unit, a
 * level whose JSON type does not match its column's, a column type other than integer, double, boolean or text)
 * falls back to staging the product, the path every kind had before.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AgentKindContext, CompiledKindJob, StatVector } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { guardedSetSize, personHashSql } from '../../node-agent/disclosure/released-cells.js';
import { withStagedProduct } from '../../node-agent/jobs/aggregate-source.js';
import { compileContingencyCounts, compileContingencyPersons, placeLabel, readContingencyCounts, type ContingencyQueryInput, type CountColumn, type CountFilter, type CountLevel } from '../../node-agent/sql/contingency-counts.js';
import type { SqlType } from '../../node-agent/sql/index.js';
import type { ContingencyPlan } from './index.js';
import type { ContingencySpec } from './spec.js';

const PUSHABLE: Readonly<Record<string, SqlType>> = { BIGINT: 'BIGINT', INTEGER: 'BIGINT', DOUBLE: 'DOUBLE', BOOLEAN: 'BOOLEAN', VARCHAR: 'VARCHAR' };

/** The compiler's input for this job on this product, or undefined when it cannot be pushed down exactly. */
export function sourceQuery(spec: ContingencySpec, product: AgentKindContext['product']): ContingencyQueryInput | undefined {
  const column = (name: string): CountColumn | undefined => {
    const c = product.columns.find((x) => x.name === name);
    const t = c && PUSHABLE[c.type.toUpperCase()];
    return t ? { name, type: t } : undefined;
  };
  const person = product.privacyUnit ? column(product.privacyUnit) ?? (product.columns.some((c) => c.name === product.privacyUnit) ? { name: product.privacyUnit, type: 'VARCHAR' as SqlType } : undefined) : undefined;
  const row = column(spec.rowColumn);
  const col = column(spec.colColumn);
  // A unit stored as a double prints '123' on the server but '123.0' in a staged DuckDB table: the guard's keyed
  // hashes would differ between the two paths, so such a unit is staged (red team).
  if (!person || person.type === 'DOUBLE' || !row || !col) return undefined;
  const where: CountFilter[] = [];
  for (const f of spec.where) {
    const c = column(f.column);
    if (!c) return undefined;
    where.push(f.op === 'is null' || f.op === 'is not null' ? { column: c, op: f.op } : ({ column: c, op: f.op, value: f.value } as CountFilter));
  }
  // JSON true/false levels: the DuckDB step refuses them (analytics/contingency.ts checkLevels); staged, this agent
  // refuses them the same way rather than count them (red team).
  if ([...spec.rowLevels, ...spec.colLevels].some((l) => typeof l === 'boolean')) return undefined;
  return { table: product.name, person, row, col, rowLevels: spec.rowLevels as CountLevel[], colLevels: spec.colLevels as CountLevel[], where };
}

/** Mode none: the candidate places' persons as local TEMP table (cell, h), through the guard. */
async function guardOnSource(session: SqlSession, conn: DuckDBConnection, q: ContingencyQueryInput, ctx: AgentKindContext, minPersons: number): Promise<void> {
  const c = compileContingencyPersons(session.dialect, q, minPersons);
  const id = randomBytes(6).toString('hex');
  const pairs = `fedmesh_ct_pairs_${id}`;
  const cand = `fedmesh_ct_cells_${id}`;
  await conn.run(`CREATE TEMP TABLE "${pairs}" (cell VARCHAR, u VARCHAR)`);
  try {
    const appender = await conn.createAppender(pairs, 'main', 'temp');
    try {
      for await (const batch of session.stream(c.sql, c.params)) {
        for (const r of batch) {
          appender.appendVarchar(placeLabel(Number(r['place']), q.colLevels.length));
          appender.appendVarchar(String(r['u']));
          appender.endRow();
        }
        appender.flushSync();
      }
    } finally {
      appender.closeSync();
    }
    await conn.run(`CREATE TEMP TABLE "${cand}" AS SELECT DISTINCT cell, ${personHashSql('u', '$1')} AS h FROM "${pairs}"`, [ctx.salt]);
    await ctx.guardReleasedSets!(conn, cand);
  } finally {
    await conn.run(`DROP TABLE IF EXISTS "${pairs}"`).catch(() => undefined);
    await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
  }
}

/**
 * The step on the server session, or the staged DuckDB step (`local`) when the spec cannot be compiled exactly.
 * @param local the DuckDB step, run over a staged copy of the product in the fallback
 */
export async function contingencyOnSource(ctx: AgentKindContext, job: CompiledKindJob<ContingencySpec, ContingencyPlan>, session: SqlSession, local: () => Promise<StatVector>): Promise<StatVector> {
  const q = sourceQuery(job.spec, ctx.product);
  let counts: { sql: string; params: (string | number | boolean)[] } | undefined;
  try {
    counts = q && compileContingencyCounts(session.dialect, q);
  } catch (e) {
    // A level of the wrong JSON type for its column: the staged path compares as DuckDB does.
    if (!(isFedmeshError(e) && e.code === 'INVALID_ARGUMENT')) throw e;
  }
  if (!q || !counts) return withStagedProduct(session, ctx.conn, ctx.product as never, local);
  // One snapshot for the guard's person sets and the counts: the cells released are the sets remembered, even on a
  // database being written (red team).
  const oneSnapshot = <T>(fn: () => Promise<T>): Promise<T> => (session.snapshot ? session.snapshot(fn) : fn());
  const rows = await oneSnapshot(async () => {
    if (job.privacy.mode === 'none' && ctx.guardReleasedSets) await guardOnSource(session, ctx.conn, q, ctx, guardedSetSize(job.secure, ctx.policy.minCellSize));
    return session.all(counts!.sql, counts!.params);
  });
  const t = readContingencyCounts(rows, q.rowLevels.length, q.colLevels.length);
  const values = new Float64Array(job.plan.cells.length);
  let at = 0;
  for (const row of t.counts) for (const v of row) values[at++] = Number(v);
  values[at++] = Number(t.outside);
  values[at] = Number(t.ambiguous);
  return { values };
}
