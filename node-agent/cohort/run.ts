/**
 * Run a compiled cohort on a data-source session (DuckDB or PostgreSQL; a bare DuckDB connection is accepted) and
 * read back its counts and inclusion-rule attrition.
 */
import type { PersonSetSink } from '../analytics/person-sets.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import { duckdbSession } from '../data/source/duckdb-source.js';
import type { SqlParam, SqlSession } from '../data/source/source.js';
import { compileCohort } from './compile.js';
import type { CompileCohortOptions, CompiledCohort } from './compile.js';
import type { CohortIR } from '../../common/cohort/index.js';

export interface AttritionRow {
  /** The inclusion rule's name as given in the definition. */
  readonly rule: string;
  /** Persons whose best event satisfies this rule and every rule before it (ATLAS "by person"). */
  readonly persons: number;
  /** Qualified events satisfying this rule and every rule before it (ATLAS "by event"). */
  readonly entries: number;
}

export interface CohortRunResult {
  /** Distinct persons in the final cohort table. */
  readonly persons: number;
  /** Rows (cohort eras) in the final cohort table. */
  readonly entries: number;
  /** Qualified events before the inclusion rules: the base of the attrition. */
  readonly qualified: { readonly persons: number; readonly entries: number };
  readonly attrition: readonly AttritionRow[];
  /** The table holding `(subject_id, cohort_start_date, cohort_end_date)`. */
  readonly table: string;
}

function toCount(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  throw new FedmeshError('INTERNAL', 'unexpected count type from the database');
}

async function existingTables(s: SqlSession): Promise<Set<string>> {
  return new Set((await s.all(s.dialect.visibleTablesSql())).map((r) => String(r['name'])));
}

/** A session for either form the callers hold. */
export function asSession(db: DuckDBConnection | SqlSession): SqlSession {
  return 'dialect' in db ? db : duckdbSession(db);
}

/**
 * Materialise a cohort in the connection's database and count it.
 *
 * @throws FedmeshError FAILED_PRECONDITION naming the OMOP tables the definition needs but the database lacks;
 *   INTERNAL (details only in `cause`) when DuckDB fails
 * @throws RangeError when `opts.targetTable` is not a plain identifier
 */
export async function runCohort(
  db: DuckDBConnection | SqlSession,
  ir: CohortIR,
  opts: Omit<CompileCohortOptions, 'dialect'> = {},
  personSets?: PersonSetSink,
): Promise<CohortRunResult> {
  const conn = asSession(db);
  const compiled = compileCohort(ir, { ...opts, dialect: conn.dialect });
  const have = await existingTables(conn);
  const missing = compiled.requiredTables.filter((t) => !have.has(t));
  if (missing.length > 0) {
    throw new FedmeshError('FAILED_PRECONDITION', `cohort needs OMOP tables that are missing: ${missing.join(', ')}`, {
      details: { missing },
    });
  }
  let failed = false;
  try {
    return await execute(conn, compiled, ir, personSets);
  } catch (e) {
    failed = true;
    if (e instanceof FedmeshError) throw e;
    // Engine messages can quote data values; keep them in `cause` for local logs only.
    throw new FedmeshError('INTERNAL', 'cohort SQL failed', { cause: e });
  } finally {
    // After a failure (a lost PostgreSQL connection) the cleanup may fail too: the first error is the one to report.
    for (const sql of compiled.cleanupStatements) await conn.run(sql).catch((e: unknown) => (failed ? undefined : Promise.reject(e)));
  }
}

async function execute(conn: SqlSession, compiled: CompiledCohort, ir: CohortIR, personSets: PersonSetSink | undefined): Promise<CohortRunResult> {
  for (const st of compiled.statements) await conn.run(st.sql, st.params as SqlParam[] | undefined);
  // Mode none: the persons behind the qualified and attrition counts, before the working tables are dropped.
  if (personSets) {
    await personSets(compiled.qualifiedPersonsSql, [], () => ['qualified']);
    if (compiled.attritionPersonsSql) await personSets(compiled.attritionPersonsSql, [], (r) => [`rule:${Number(r['rule_index'])}`]);
  }
  const counts = (
    await conn.all(`SELECT COUNT(DISTINCT subject_id) AS persons, COUNT(*) AS entries FROM ${conn.dialect.tempTable(compiled.cohortTable)}`)
  )[0];
  const base = (await conn.all(compiled.qualifiedSql))[0];
  let attrition: AttritionRow[] = [];
  if (compiled.attritionSql) {
    const rows = await conn.all(compiled.attritionSql);
    attrition = rows.map((r) => {
      const index = toCount(r['rule_index']);
      return {
        rule: ir.inclusionRules[index]?.name ?? `rule ${index}`,
        persons: toCount(r['persons']),
        entries: toCount(r['entries']),
      };
    });
  }
  return {
    persons: toCount(counts?.['persons']),
    entries: toCount(counts?.['entries']),
    qualified: { persons: toCount(base?.['persons']), entries: toCount(base?.['entries']) },
    attrition,
    table: compiled.cohortTable,
  };
}
