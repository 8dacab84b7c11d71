/**
 * The mode-none differencing guard inside secure sums (red-team finding F5). On the plain path an agent withholds
 * its cells below the minimum cell size k and guards the person sets of the cells it releases (≥ k persons), so the
 * two rules together cover everything that leaves. Inside a secure sum nothing is withheld per agent — a cell of 8
 * persons here and 8 at another site is released as 16 with k = 10 — and the agent never sees what is released. So
 * the candidate set here is every non-empty local cell (minimum 1 person): a job whose cell differs from one this
 * researcher was given earlier by 1 … k − 1 local persons is refused at this agent before anything is masked or
 * encrypted. That closes the attack because persons are local to a site: the released total's person set differs
 * by the union of the sites' local differences, so it differs by 1 … k − 1 only if some site's differs so.
 * The same `ReleasedCells` memory as the plain path and the kind seam, so plain, secure and seam jobs are checked
 * against each other.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AggregatePrivacyPlan, AggregateJob, CellJob } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { personHashSql, type ReleasedCells } from '../disclosure/released-cells.js';
import { candidateCells, refuseSmallEdges } from '../disclosure/exact-aggregate.js';
import { computeCells, guardedCells } from '../jobs/cell-jobs.js';
import { queryGroupStatistics } from '../query/group-statistics.js';
import { candidateCellsFromSource, withStagedColumns } from '../jobs/aggregate-source.js';
import { contingencyCandidatesFromSource, contingencySourceQuery, contingencyStagedColumns } from '../jobs/contingency-source.js';
import { compileContingencyCounts, compileContingencyPersons, readContingencyCounts } from '../sql/contingency-counts.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { DEFAULT_BATCH_ROWS, type SqlSession } from '../data/source/index.js';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';

/** Who asks and what this agent remembers: present only for a mode-none secure job on an agent with a guard. */
export interface SecureRelease {
  researcher: string;
  jobId: string;
  cells: ReleasedCells;
  salt: string;
  policy: { minCellSize: number; maxRememberedPersons: number };
}

/** Every non-empty local cell of a secure job leaves inside the sum: the guard's candidates are all of them. */
const SECURE_MIN_PERSONS = 1;

function check(conn: DuckDBConnection, release: SecureRelease, candidates: string): Promise<unknown> {
  return release.cells.checkAndRecord(conn, { researcher: release.researcher, jobId: release.jobId, candidates, minCellSize: release.policy.minCellSize, maxRememberedPersons: release.policy.maxRememberedPersons });
}

/**
 * A cell job's exact cells for a secure sum, through the guard when `release` is given.
 * @param data on an agent over a site's PostgreSQL: its session. The cohort SQL runs there and the cohort's persons
 *   are hashed in this agent's DuckDB (`guardedCells`, every cell's persons); a contingency table is counted there by one GROUP BY
 *   (node-agent/jobs/contingency-source.ts), or, when its spec cannot be compiled exactly, over a staged copy of the
 *   columns the step reads (contingencyStagedColumns), as the kind seam's step does.
 * @param product the contingency job's product (its columns decide what compiles). Required with `data` for contingency.
 */
export async function secureCells(conn: DuckDBConnection, job: CellJob, taskId: string, personColumn: string | undefined, release: SecureRelease | undefined, data?: SqlSession, product?: ProductInfo): Promise<Map<string, bigint>> {
  const unit = personColumn ? { personColumn } : {};
  if (job.kind !== 'contingency') {
    if (!release) return computeCells(data ?? conn, job, taskId, unit);
    // cohort, characterize, survival: every cell's persons, as the plain path guards them, from one person up.
    return guardedCells(conn, data, job, taskId, release.salt, SECURE_MIN_PERSONS, (cand) => check(conn, release, cand), unit);
  }
  if (data) {
    if (!product) throw new FedmeshError('INVALID_JOB', `product: this agent has no product ${job.product}`, { field: 'product' });
    const onServer = await contingencyOnServer(conn, data, job, product, release);
    if (onServer) return onServer;
    return withStagedColumns(data, conn, product, contingencyStagedColumns(job, product), [], () => secureCells(conn, job, taskId, personColumn, release), DEFAULT_BATCH_ROWS, true);
  }
  if (!release) return computeCells(conn, job, taskId, unit);
  const sets = `fedmesh_sct_${taskId.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}_${randomBytes(4).toString('hex')}`;
  try {
    const values = await computeCells(conn, job, taskId, { ...unit, personSets: { table: sets, salt: release.salt, hashSql: personHashSql } });
    const cand = `${sets}_cells`;
    await conn.run(`CREATE TEMP TABLE "${cand}" AS SELECT DISTINCT cell, h FROM "${sets}"`);
    try {
      await check(conn, release, cand);
    } finally {
      await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
    }
    return values;
  } finally {
    await conn.run(`DROP TABLE IF EXISTS "${sets}"`).catch(() => undefined);
  }
}

/**
 * A contingency table counted on the server (undefined: its spec cannot be compiled exactly, so the caller stages
 * the product). The guard's person sets (every non-empty place) and the counts come from one snapshot, so the cells
 * summed are the sets remembered.
 */
async function contingencyOnServer(conn: DuckDBConnection, data: SqlSession, job: CellJob & { kind: 'contingency' }, product: ProductInfo, release: SecureRelease | undefined): Promise<Map<string, bigint> | undefined> {
  const q = contingencySourceQuery(job, product);
  if (!q) return undefined;
  let counts: ReturnType<typeof compileContingencyCounts>;
  try {
    counts = compileContingencyCounts(data.dialect, q);
  } catch (e) {
    // A level of the wrong JSON type for its column: the staged path compares as DuckDB does.
    if (isFedmeshError(e) && e.code === 'INVALID_ARGUMENT') return undefined;
    throw e;
  }
  const oneSnapshot = <T>(fn: () => Promise<T>): Promise<T> => (data.snapshot ? data.snapshot(fn) : fn());
  const rows = await oneSnapshot(async () => {
    if (release) {
      const cand = await contingencyCandidatesFromSource(data, conn, compileContingencyPersons(data.dialect, q, SECURE_MIN_PERSONS), q.colLevels.length, release.salt);
      try {
        await check(conn, release, cand);
      } finally {
        await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
      }
    }
    return data.all(counts.sql, counts.params);
  });
  const t = readContingencyCounts(rows, q.rowLevels.length, q.colLevels.length);
  const cells = new Map<string, bigint>();
  t.counts.forEach((row, r) => row.forEach((v, c) => cells.set(`cell:${r}:${c}`, v)));
  cells.set('outside', t.outside);
  cells.set('ambiguous', t.ambiguous);
  return cells;
}

/**
 * An aggregate job's exact statistics per group for a secure sum (the same parameterised SQL as the plaintext job,
 * no per-agent suppression), through the guard when `release` is given: every group and histogram bin with a person
 * in it. A product without a privacy unit counts rows and is not guarded, as on the plain path.
 */
export async function secureGroupStatistics(conn: DuckDBConnection, job: AggregateJob, product: ProductInfo, privacy: AggregatePrivacyPlan, salt: string, release: SecureRelease | undefined, data?: SqlSession): Promise<GroupPartial[]> {
  const inspect = release
    ? async (rows: string, stats: Parameters<typeof candidateCells>[2]): Promise<void> => {
        if (!stats.plan.hasUnit) return;
        if (job.privacy.mode === 'none') refuseSmallEdges(stats, release.policy.minCellSize);
        // On a site's PostgreSQL the rows table is the server's: its cells' persons are hashed in this agent's DuckDB.
        const cand = data ? await candidateCellsFromSource(data, conn, rows, stats, release.salt, SECURE_MIN_PERSONS) : await candidateCells(conn, rows, stats, release.salt, SECURE_MIN_PERSONS);
        try {
          await check(conn, release, cand);
        } finally {
          await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
        }
      }
    : undefined;
  return (await queryGroupStatistics(data ?? conn, job, product, privacy, salt, inspect ? { inspect, binPersons: job.privacy.mode === 'none' } : {})).groups;
}
