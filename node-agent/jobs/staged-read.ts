/**
 * A registry kind's staged round on an agent whose data live in a site's PostgreSQL (AgentKindDef.stagedRead): the
 * columns the round reads, of the rows passing the job's filters, cross into a TEMP table of the task's DuckDB named
 * like the product (aggregate-source.ts, through a cursor). With a cohort, the cohort is built on the server, where
 * the OMOP tables are, with the same compiled SQL as everywhere (node-agent/cohort); only its members' rows are
 * staged, and its members (subject ids, no dates) cross into a local TEMP table the step restricts to
 * (AgentKindContext.cohortMembers). Everything staged is dropped when the round ends; nothing leaves the agent.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { invalidJob } from '../../common/errors.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import type { StagedRead } from '../../common/kinds/index.js';
import { runCohort } from '../cohort/index.js';
import type { ProductInfo } from '../data/products.js';
import { DEFAULT_BATCH_ROWS, type SqlSession } from '../data/source/index.js';
import { withStagedColumns } from './aggregate-source.js';

const LOCAL_UNIT_TYPE: Record<string, string> = { BIGINT: 'BIGINT', INTEGER: 'INTEGER', DOUBLE: 'DOUBLE' };

/**
 * Stages what `read` asks of `product` from `data` into `local`, runs `fn` with the cohort's member table (if any),
 * and drops everything.
 * @throws FedmeshError INVALID_JOB (cohort without a privacy unit; filters the product cannot take),
 *   FAILED_PRECONDITION (OMOP tables the cohort needs are missing on the server)
 */
export async function withStagedRead<T>(data: SqlSession, local: DuckDBConnection, product: ProductInfo, read: StagedRead, fn: (staged: { cohortMembers?: string }) => Promise<T>, batchRows = DEFAULT_BATCH_ROWS): Promise<T> {
  const columns = product.columns.filter((c) => read.columns.includes(c.name));
  // Every filter is pushed down: text order comparisons compare bytes there too (filterSql), as DuckDB does.
  const where = read.where;
  if (read.cohort === undefined) return withStagedColumns(data, local, product, columns, where, () => fn({}), batchRows, true);
  const unit = product.privacyUnit;
  if (!unit) throw invalidJob('cohort', `product ${product.name} has no privacy unit to match cohort members on`);
  const ir = parseCohortDefinition(read.cohort, 'cohort');
  const id = randomBytes(6).toString('hex');
  const server = `fedmesh_cohort_${id}`;
  const raw = `fedmesh_members_raw_${id}`;
  const members = `fedmesh_members_${id}`;
  try {
    await runCohort(data, ir, { targetTable: server });
    await local.run(`CREATE TEMP TABLE "${raw}" (s VARCHAR)`);
    const appender = await local.createAppender(raw, 'main', 'temp');
    try {
      const d = data.dialect;
      for await (const rows of data.stream(`SELECT DISTINCT ${d.cast('subject_id', 'VARCHAR')} AS s FROM ${d.tempTable(server)}`, [], { batchRows })) {
        for (const r of rows) {
          appender.appendVarchar(String(r['s']));
          appender.endRow();
        }
        appender.flushSync();
      }
    } finally {
      appender.closeSync();
    }
    // Typed like the unit, so that the step's `unit IN (SELECT subject_id …)` compares numbers with numbers.
    const type = LOCAL_UNIT_TYPE[(product.columns.find((c) => c.name === unit)?.type ?? '').toUpperCase()] ?? 'VARCHAR';
    await local.run(`CREATE TEMP TABLE "${members}" AS SELECT CAST(s AS ${type}) AS subject_id FROM "${raw}"`);
    return await withStagedColumns(data, local, product, columns, where, () => fn({ cohortMembers: members }), batchRows, true, { table: server, unit });
  } finally {
    await data.run(data.dialect.dropTempTable(server)).catch(() => undefined);
    for (const t of [raw, members]) await local.run(`DROP TABLE IF EXISTS "${t}"`).catch(() => undefined);
  }
}
