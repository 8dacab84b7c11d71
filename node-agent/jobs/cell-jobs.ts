import type { DuckDBConnection } from '@duckdb/node-api';
import { asBufferedRng } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { encodeCells, type CellCounts } from '../../common/arrow/cells-codec.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError } from '../../common/errors.js';
import { cellBlocks, survivalTimes, type CellJobBody } from '../../common/job/cohort-jobs.js';
import { planCellPrivacy } from '../../common/job/cell-privacy.js';
import type { CellJob } from '../../common/job/spec.js';
import { characterizeCohort, contingencyCounts, survivalCounts } from '../analytics/index.js';
import { asSession, runCohort } from '../cohort/index.js';
import type { SqlSession } from '../data/source/source.js';
import { copyPersonsToLocal } from './local-persons.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { personHashSql, type ReleasedCells } from '../disclosure/released-cells.js';

export interface CellJobContext {
  /** The agent's own DuckDB: its ledger and differencing memory, and the data unless `data` is given. */
  conn: DuckDBConnection;
  /** Where the OMOP data is queried when not in `conn` (a PostgreSQL session). @default conn */
  data?: SqlSession;
  job: CellJob;
  taskId: string;
  policy: CompiledAgentPolicy;
  rng: Rng;
  /** Mode none: who asks, for the differencing guard on the cohort's persons. */
  release?: { researcher: string; jobId: string; cells: ReleasedCells; salt: string };
}

export interface ComputeCellsOptions {
  /** The product's privacy-unit column (contingency jobs). @default person_id or subject_id, whichever it has */
  personColumn?: string;
  /** Runs on the job's cohort table (cohort, characterize: the cohort; survival: the target) before it is dropped. */
  onCohort?: (table: string) => Promise<void>;
  /** Contingency: also write each counted person's keyed hash per cell into this temp table (the differencing guard). */
  personSets?: { table: string; salt: string; hashSql: (personExpr: string, saltParam: string) => string };
}

function tableName(taskId: string, suffix: string): string {
  return `fedmesh_job_${taskId.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}_${suffix}`;
}

/**
 * Exact counts of distinct persons in the job's public cells on this agent, with no suppression or noise: used by
 * `runCellJob` (plaintext modes) and by secure jobs (which mask or encrypt them). Scratch tables are named after
 * `taskId` and dropped afterwards.
 */
export async function computeCells(db: DuckDBConnection | SqlSession, job: CellJobBody, taskId: string, options: ComputeCellsOptions = {}): Promise<Map<string, bigint>> {
  const conn = asSession(db);
  const cells = new Map<string, bigint>();
  const dropTables: string[] = [];
  try {
    if (job.kind === 'cohort' || job.kind === 'characterize') {
      const ir = parseCohortDefinition(job.definition);
      const target = tableName(taskId, 'c');
      dropTables.push(target);
      const run = await runCohort(conn, ir, { targetTable: target });
      const ch = await characterizeCohort(conn, target, {
        ageBands: job.ageBands,
        ...(job.kind === 'characterize' ? { conditionConcepts: job.conditionConcepts, drugConcepts: job.drugConcepts, windowDays: job.windowDays } : {}),
      });
      cells.set('persons', ch.persons);
      await options.onCohort?.(target);
      ch.byAgeBand.forEach((b) => cells.set(`age:${b.band}`, b.persons));
      ch.byGender.forEach((g) => cells.set(`gender:${g.gender_concept_id}`, g.persons));
      if (job.kind === 'cohort') {
        cells.set('entries', ch.entries);
        cells.set('qualified', BigInt(run.qualified.persons));
        run.attrition.forEach((a, i) => cells.set(`rule:${i}`, BigInt(a.persons)));
      } else {
        ch.conditions.forEach((c) => cells.set(`condition:${c.concept_id}`, c.persons));
        ch.drugs.forEach((c) => cells.set(`drug:${c.concept_id}`, c.persons));
      }
      return cells;
    }
    if (job.kind === 'survival') {
      const target = tableName(taskId, 't');
      dropTables.push(target);
      await runCohort(conn, parseCohortDefinition(job.target, 'target'), { targetTable: target });
      await options.onCohort?.(target);
      let outcome: Parameters<typeof survivalCounts>[1]['outcome'];
      if ('definition' in job.outcome) {
        const o = tableName(taskId, 'o');
        dropTables.push(o);
        await runCohort(conn, parseCohortDefinition(job.outcome.definition, 'outcome.definition'), { targetTable: o });
        outcome = { table: o };
      } else {
        outcome = { domain: job.outcome.domain, conceptIds: job.outcome.conceptIds, includeDescendants: job.outcome.includeDescendants !== false };
      }
      const s = await survivalCounts(conn, { targetTable: target, outcome, timeGrid: job.timeGrid, strata: job.strata === 'gender' ? 'gender' : undefined });
      const times = survivalTimes(job.timeGrid.binDays, job.timeGrid.maxDays);
      for (const st of s.strata) {
        if (st.times.length !== times.length || st.times.some((t, i) => t !== times[i])) throw new FedmeshError('INTERNAL', 'survival time grid mismatch');
        cells.set(`n:${st.label}`, st.atRisk[0] ?? 0n);
        st.events.forEach((e, i) => cells.set(`e:${st.label}:${i}`, e));
        st.censored.forEach((c, i) => cells.set(`c:${st.label}:${i}`, c));
      }
      return cells;
    }
    // Contingency reaches here only from the built-in HE path (plain and secagg run on the kind seam, jobs/contingency).
    if ('dialect' in db) throw new FedmeshError('FAILED_PRECONDITION', 'contingency jobs do not run on a PostgreSQL data source yet');
    const t = await contingencyCounts(db, {
      table: job.product,
      rowColumn: job.rowColumn,
      colColumn: job.colColumn,
      rowLevels: job.rowLevels as (string | number)[],
      colLevels: job.colLevels as (string | number)[],
      where: job.where as never,
      ...(options.personColumn ? { personColumn: options.personColumn } : {}),
      ...(options.personSets ? { personSets: options.personSets } : {}),
    });
    t.counts.forEach((row, r) => row.forEach((v, c) => cells.set(`cell:${r}:${c}`, v)));
    cells.set('outside', t.outside);
    cells.set('ambiguous', t.ambiguous);
    return cells;
  } finally {
    for (const d of dropTables) await conn.run(conn.dialect.dropTempTable(d)).catch(() => undefined);
  }
}

/**
 * The differencing guard on the persons of a cohort released in mode none (the `persons` cell of cohort and
 * characterize jobs, the target cohort of survival jobs): refused when it differs from a cohort or cell released to
 * the same researcher earlier by 1 … k − 1 persons (`age >= X` vs `age > X` in an inclusion rule). Cohorts below
 * k persons are withheld anyway and not remembered.
 * `minPersons`: the smallest cohort that leaves this agent — k on the plain path; 1 inside a secure sum, where
 * nothing is withheld per agent and the agent cannot see what is released.
 */
export async function guardCohort(conn: DuckDBConnection, data: SqlSession | undefined, cohortTable: string, release: NonNullable<CellJobContext['release']>, policy: Pick<CompiledAgentPolicy, 'minCellSize' | 'maxRememberedPersons'>, minPersons = policy.minCellSize): Promise<void> {
  await guardCohortWith(conn, data, cohortTable, release.salt, minPersons, (cand) => release.cells.checkAndRecord(conn, { researcher: release.researcher, jobId: release.jobId, candidates: cand, minCellSize: policy.minCellSize, maxRememberedPersons: policy.maxRememberedPersons }));
}

/**
 * The cohort's persons as the guard's candidate set — TEMP table `(cell, h)` with the one cell `cohort`, empty when
 * the cohort has fewer than `minPersons` — handed to `check` (the guard of the old path or the kind seam's
 * `guardReleasedSets`), then dropped.
 */
export async function guardCohortWith(conn: DuckDBConnection, data: SqlSession | undefined, cohortTable: string, salt: string, minPersons: number, check: (candidates: string) => Promise<unknown>): Promise<void> {
  // Data elsewhere (PostgreSQL): the cohort's person ids are streamed into a local TEMP table (they stay in this
  // agent), so the hash and the check below are the same code, with the same answer, on both sources.
  const cohort = data ? await copyPersonsToLocal(data, cohortTable, conn) : cohortTable;
  const cand = `${cohort}_cells`;
  try {
    await conn.run(
      `CREATE TEMP TABLE "${cand}" AS WITH d AS (SELECT DISTINCT 'cohort' AS cell, ${personHashSql('subject_id', '$1')} AS h FROM "${cohort}" WHERE subject_id IS NOT NULL) SELECT cell, h FROM d WHERE (SELECT count(*) FROM d) >= $2`,
      [salt, minPersons],
    );
    await check(cand);
  } finally {
    await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
    if (cohort !== cohortTable) await conn.run(`DROP TABLE IF EXISTS "${cohort}"`).catch(() => undefined);
  }
}

/**
 * Runs a cohort-level job (cohort, characterize, survival) on this agent: counts of distinct persons in
 * the job's public cells. Mode none: cells below the minimum cell size are withheld here. central-dp: exact counts
 * for the coordinator to noise. local-dp: each cell noised here with the job's plan.
 */
export async function runCellJob(ctx: CellJobContext): Promise<{ arrow: Uint8Array; meta: Record<string, unknown> }> {
  const { job } = ctx;
  const ruleNames = job.kind === 'cohort' ? parseCohortDefinition(job.definition).inclusionRules.map((r) => r.name) : [];
  const blocks = cellBlocks(job, ruleNames);
  const k = BigInt(ctx.policy.minCellSize);
  const release = ctx.release;
  const guard = job.privacy.mode === 'none' && release !== undefined;
  const values = await computeCells(ctx.data ?? ctx.conn, job, ctx.taskId, guard ? { onCohort: (table: string) => guardCohort(ctx.conn, ctx.data, table, release, ctx.policy) } : {});
  const out: CellCounts = { values: new Map(), suppressed: new Set() };
  const privacy = planCellPrivacy(job, blocks);
  const rng = asBufferedRng(ctx.rng);
  // Entries are rows, not persons: a small cohort's entry count would tell what its withheld person count hides.
  const persons = values.get('persons');
  if (job.privacy.mode === 'none' && persons !== undefined && persons < k && values.has('entries')) values.set('entries', persons);
  for (const [bi, b] of blocks.entries()) {
    if (job.privacy.mode !== 'none' && !b.dpSafe) continue;
    for (const cell of b.cells) {
      const v = values.get(cell) ?? 0n;
      if (job.privacy.mode === 'none') {
        out.values.set(cell, v > 0n && v < k ? 0n : v);
        if (v > 0n && v < k) out.suppressed.add(cell);
      } else if (job.privacy.mode === 'local-dp') {
        out.values.set(cell, v + privacy.blocks[bi]!.noise!.sample(rng));
      } else {
        out.values.set(cell, v);
      }
    }
  }
  if (job.privacy.mode === 'none' && job.kind === 'cohort') withholdNestedDifferences(out, ['qualified', ...ruleNames.map((_, i) => `rule:${i}`), 'persons'], k);
  return { arrow: encodeCells(out), meta: { cells: out.values.size, suppressed: out.suppressed.size } };
}

/**
 * Differencing inside one cohort job: the attrition cells are nested person sets (qualified ⊇ after rule 0 ⊇ after
 * rule 1 … ⊇ the cohort), so two released neighbours that differ by 1 … k − 1 persons disclose the persons one rule
 * removed. Such a cell is withheld (complementary suppression), and the next one is compared with the last cell
 * actually released.
 */
function withholdNestedDifferences(out: CellCounts, chain: readonly string[], k: bigint): void {
  let last: bigint | undefined;
  for (const cell of chain) {
    if (!out.values.has(cell) || out.suppressed.has(cell)) continue;
    const v = out.values.get(cell)!;
    if (last !== undefined && last - v > 0n && last - v < k) {
      out.values.set(cell, 0n);
      out.suppressed.add(cell);
      continue;
    }
    last = v;
  }
}
