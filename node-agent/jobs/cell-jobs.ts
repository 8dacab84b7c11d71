import type { DuckDBConnection } from '@duckdb/node-api';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError } from '../../common/errors.js';
import { CONCEPT_CELL_PREFIXES, survivalTimes, type CellJobBody } from '../../common/job/index.js';
import { characterizeCohort, contingencyCounts, survivalCounts } from '../analytics/index.js';
import { asSession, runCohort } from '../cohort/index.js';
import type { SqlSession } from '../data/source/source.js';
import { openCellSets } from './cell-sets.js';
import { withholdCloseFreeCells } from '../disclosure/within-job.js';
import { WITHHELD } from '../../common/kinds/index.js';
import type { PersonSetSink } from '../analytics/person-sets.js';

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


/** A cell withheld by the within-job rule, in the map {@link guardedCells} returns (the seam's WITHHELD marker). */
export const WITHHELD_CELL = BigInt(WITHHELD);

export interface GuardedCellsOptions extends Omit<ComputeCellsOptions, 'cellSets'> {
  /**
   * Plain mode none only: withhold a concept cell whose persons differ from a kept cell's of the same job by 1 … k − 1
   * (node-agent/disclosure/within-job.ts); it comes back as {@link WITHHELD_CELL}. Not inside a secure sum, which
   * cannot carry the marker.
   */
  withinJob?: {
    minCellSize: number;
    /** The structural cells the complementary rules will withhold after the step, from the exact values. */
    laterWithheld?: (values: ReadonlyMap<string, bigint>) => ReadonlySet<string>;
  };
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
export async function guardedCells(conn: DuckDBConnection, data: SqlSession | undefined, job: CellJobBody, taskId: string, salt: string, minPersons: number, check: (candidates: string, withheld: readonly string[]) => Promise<unknown>, options: GuardedCellsOptions = {}): Promise<Map<string, bigint>> {
  const sets = await openCellSets(conn, data ?? conn);
  try {
    const { withinJob, ...compute } = options;
    const values = await computeCells(data ?? conn, job, taskId, { ...compute, cellSets: sets.sink });
    let withheld = new Set<string>();
    await sets.check(salt, minPersons, async (candidates) => {
      const later = withinJob?.laterWithheld?.(values) ?? new Set<string>();
      if (withinJob) withheld = await withholdCloseFreeCells(conn, candidates, withinJob.minCellSize, CONCEPT_CELL_PREFIXES, [...values.keys()], later);
      // The structural cells withheld after the step are remembered as withheld, not released (released-cells.ts).
      return check(candidates, [...later]);
    });
    for (const c of withheld) values.set(c, WITHHELD_CELL);
    return values;
  } finally {
    await sets.close();
  }
}
