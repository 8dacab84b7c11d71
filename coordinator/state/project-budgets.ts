/**
 * Budgets per project (an ethics approval or study id, `project` in a job spec): one (ε, δ) budget per project ×
 * population, shared by every researcher who runs jobs under the project. A project budget limits the project's
 * total privacy loss on a population whoever spends it; it applies in addition to each researcher's own budget (a
 * job must fit in both). A project without a budget set is limited by its researchers' budgets only.
 *
 * Each charge row carries the project of its job (written with the reservation and in its chain entry, so the
 * project's spend is verified at start like every other charge).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { EpsilonDeltaBudget } from '../../common/job/index.js';
import { POPULATION_CHARGES, PROJECT_BUDGETS } from './ledger-tables.js';

/** The project's budget on `population`, or undefined when none is set. */
export async function projectBudgetOf(conn: DuckDBConnection, project: string, population: string): Promise<EpsilonDeltaBudget | undefined> {
  const r = (await conn.runAndReadAll(`SELECT epsilon, delta FROM ${PROJECT_BUDGETS} WHERE project = $1 AND population = $2`, [project, population])).getRowObjectsJS()[0];
  return r ? { epsilon: Number(r.epsilon), delta: Number(r.delta) } : undefined;
}

/**
 * The (project, population) pairs a report shows: every project budget and every charged project, restricted to
 * the projects `researcher` has charged jobs under when given (a researcher sees the budgets of their projects).
 */
export async function projectPairs(conn: DuckDBConnection, researcher: string | undefined): Promise<Array<{ project: string; population: string }>> {
  const rows = (
    await conn.runAndReadAll(
      `SELECT DISTINCT project, population FROM (
         SELECT project, population FROM ${PROJECT_BUDGETS}
         UNION SELECT project, population FROM ${POPULATION_CHARGES} WHERE project IS NOT NULL)
        WHERE $1::VARCHAR IS NULL OR project IN (SELECT project FROM ${POPULATION_CHARGES} WHERE researcher = $1 AND project IS NOT NULL)
        ORDER BY project, population`,
      [researcher ?? null],
    )
  ).getRowObjectsJS();
  return rows.map((r) => ({ project: String(r.project), population: String(r.population) }));
}
