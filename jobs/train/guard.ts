/**
 * Mode none: the agent's differencing guard over a train job's persons (red-team F1 follow-up). A mode-none train job
 * releases exact pooled figures over the agent's test rows (loss, accuracy, AUC) and training rows (training loss,
 * and the exact model itself); two jobs whose `where` differs by one person, each with at least k rows, subtracted to
 * that person's figures. Here the persons behind the test side and the training side are two released sets for the
 * agent's ReleasedCells memory (node-agent/disclosure/released-cells.ts), the one contingency and aggregates use: a
 * set that differs from one released to the same researcher before by 1 … k − 1 persons is refused
 * (PERMISSION_DENIED naming privacy.mode), before any figure is computed.
 *
 * Which sets are candidates follows contingency's rule: with plain sums the sides of at least k persons (a smaller
 * side is flagged and zeroed, agent.ts); inside a secure sum every non-empty side, since nothing is withheld per
 * agent there. Rows without a privacy unit have no person to key; a product without one is not guarded (as for
 * contingency).
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { personHashSql } from '../../node-agent/disclosure/released-cells.js';

/**
 * A GlmReadOptions.onRows hook that puts the persons of the design's rows, by split side (the last design term is the
 * test dummy), through `guard`.
 */
export function trainPersonGuard(opts: { salt: string; minPersons: number; guard: (conn: DuckDBConnection, candidates: string) => Promise<void> }) {
  return async (conn: DuckDBConnection, rows: { readonly table: string; readonly lastTerm: string; readonly hasUnit: boolean }): Promise<void> => {
    if (!rows.hasUnit) return;
    const cand = `fedmesh_train_guard_${randomBytes(6).toString('hex')}`;
    await conn.run(
      `CREATE TEMP TABLE "${cand}" AS SELECT cell, h FROM (SELECT DISTINCT CASE WHEN "${rows.lastTerm}" = 1 THEN 'test' ELSE 'train' END AS cell, ${personHashSql('u', '$1')} AS h FROM "${rows.table}" WHERE u IS NOT NULL) ` +
        `WHERE cell IN (SELECT cell FROM (SELECT DISTINCT CASE WHEN "${rows.lastTerm}" = 1 THEN 'test' ELSE 'train' END AS cell, u FROM "${rows.table}" WHERE u IS NOT NULL) GROUP BY cell HAVING count(*) >= $2)`,
      [opts.salt, opts.minPersons],
    );
    try {
      await opts.guard(conn, cand);
    } finally {
      await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
    }
  };
}
