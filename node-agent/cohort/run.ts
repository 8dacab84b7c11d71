/**
 * Run a compiled cohort on a DuckDB connection and read back its counts and inclusion-rule attrition.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import { compileCohort } from './compile.js';
import type { CompileCohortOptions, CompiledCohort } from './compile.js';
import type { CohortIR } from '../../common/cohort/ir.js';

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
  throw new FedmeshError('INTERNAL', 'unexpected count type from DuckDB');
}

async function existingTables(conn: DuckDBConnection): Promise<Set<string>> {
  const reader = await conn.runAndReadAll(
    'SELECT DISTINCT lower(table_name) AS name FROM information_schema.tables WHERE table_schema = current_schema()',
  );
  return new Set(reader.getRowObjectsJS().map((r) => String(r['name'])));
}

/**
 * Materialise a cohort in the connection's database and count it.
 *
 * @throws FedmeshError FAILED_PRECONDITION naming the OMOP tables the definition needs but the database lacks;
 *   INTERNAL (details only in `cause`) when DuckDB fails
 * @throws RangeError when `opts.targetTable` is not a plain identifier
 */
export async function runCohort(
  conn: DuckDBConnection,
  ir: CohortIR,
  opts: CompileCohortOptions = {},
): Promise<CohortRunResult> {
  const compiled = compileCohort(ir, opts);
  const have = await existingTables(conn);
  const missing = compiled.requiredTables.filter((t) => !have.has(t));
  if (missing.length > 0) {
    throw new FedmeshError('FAILED_PRECONDITION', `cohort needs OMOP tables that are missing: ${missing.join(', ')}`, {
      details: { missing },
    });
  }
  try {
    return await execute(conn, compiled, ir);
  } catch (e) {
    if (e instanceof FedmeshError) throw e;
    // DuckDB messages can quote data values; keep them in `cause` for local logs only.
    throw new FedmeshError('INTERNAL', 'cohort SQL failed', { cause: e });
  } finally {
    for (const sql of compiled.cleanupStatements) await conn.run(sql);
  }
}

async function execute(conn: DuckDBConnection, compiled: CompiledCohort, ir: CohortIR): Promise<CohortRunResult> {
  for (const st of compiled.statements) {
    if (st.params) await conn.run(st.sql, st.params as DuckDBValue[]);
    else await conn.run(st.sql);
  }
  const counts = (
    await conn.runAndReadAll(`SELECT COUNT(DISTINCT subject_id) AS persons, COUNT(*) AS entries FROM "${compiled.cohortTable}"`)
  ).getRowObjectsJS()[0];
  const base = (await conn.runAndReadAll(compiled.qualifiedSql)).getRowObjectsJS()[0];
  let attrition: AttritionRow[] = [];
  if (compiled.attritionSql) {
    const rows = (await conn.runAndReadAll(compiled.attritionSql)).getRowObjectsJS();
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
