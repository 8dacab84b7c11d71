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
import { openCellSets } from './cell-sets.js';
import type { PersonSetSink } from '../analytics/person-sets.js';
import type { CompiledAgentPolicy } from '../policy.js';
import type { ReleasedCells } from '../disclosure/released-cells.js';

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
  /**
   * Mode none: receives the persons behind every cell (cohort, characterize, survival) — the cohort (`persons`; the
   * survival target as `cohort`), the attrition, breakdowns, concepts and survival bins — for the differencing guard.
   */
  cellSets?: PersonSetSink;
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
      const sets = options.cellSets;
      const run = await runCohort(conn, ir, { targetTable: target }, job.kind === 'cohort' ? sets : undefined);
      if (sets) await sets(cohortPersonsSql(conn, target), [], () => ['persons']);
      const ch = await characterizeCohort(conn, target, {
        ageBands: job.ageBands,
        ...(job.kind === 'characterize' ? { conditionConcepts: job.conditionConcepts, drugConcepts: job.drugConcepts, windowDays: job.windowDays } : {}),
        ...(sets ? { personSets: sets } : {}),
      });
      cells.set('persons', ch.persons);
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
      if (options.cellSets) await options.cellSets(cohortPersonsSql(conn, target), [], () => ['cohort']);
      let outcome: Parameters<typeof survivalCounts>[1]['outcome'];
      if ('definition' in job.outcome) {
        const o = tableName(taskId, 'o');
        dropTables.push(o);
        await runCohort(conn, parseCohortDefinition(job.outcome.definition, 'outcome.definition'), { targetTable: o });
        outcome = { table: o };
      } else {
        outcome = { domain: job.outcome.domain, conceptIds: job.outcome.conceptIds, includeDescendants: job.outcome.includeDescendants !== false };
      }
      const s = await survivalCounts(conn, { targetTable: target, outcome, timeGrid: job.timeGrid, strata: job.strata === 'gender' ? 'gender' : undefined, ...(options.cellSets ? { personSets: options.cellSets } : {}) });
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

function cohortPersonsSql(conn: SqlSession, cohortTable: string): string {
  return `SELECT DISTINCT subject_id AS person_id FROM ${conn.dialect.tempTable(cohortTable)} WHERE subject_id IS NOT NULL`;
}

/**
 * The exact cells of a cohort-level job through the mode-none differencing guard over every cell it releases
 * (node-agent/jobs/cell-sets.ts): refused when a cell's persons differ from a set released to the same researcher
 * earlier by 1 … k − 1 (`age >= X` vs `age > X` in an inclusion rule, an age band edge or the characterisation window
 * moved by one, a survival grid shifted by a day). Cells below `minPersons` are withheld and not remembered.
 * `minPersons`: the smallest cell that leaves this agent — k on the plain path; 1 inside a secure sum, where nothing
 * is withheld per agent and the agent cannot see what is released.
 * @param conn the agent's own DuckDB (the guard's memory); `data` the site's server when the data lives there
 * @param check the guard over the TEMP table `(cell, h)` of candidates
 */
export async function guardedCells(conn: DuckDBConnection, data: SqlSession | undefined, job: CellJobBody, taskId: string, salt: string, minPersons: number, check: (candidates: string) => Promise<unknown>, options: Omit<ComputeCellsOptions, 'cellSets'> = {}): Promise<Map<string, bigint>> {
  const sets = await openCellSets(conn, data ?? conn);
  try {
    const values = await computeCells(data ?? conn, job, taskId, { ...options, cellSets: sets.sink });
    await sets.check(salt, minPersons, check);
    return values;
  } finally {
    await sets.close();
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
  const values = guard
    ? await guardedCells(ctx.conn, ctx.data, job, ctx.taskId, release.salt, ctx.policy.minCellSize, (cand) => release.cells.checkAndRecord(ctx.conn, { researcher: release.researcher, jobId: release.jobId, candidates: cand, minCellSize: ctx.policy.minCellSize, maxRememberedPersons: ctx.policy.maxRememberedPersons }))
    : await computeCells(ctx.data ?? ctx.conn, job, ctx.taskId);
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
