/**
 * A large, flat, person-like table for benchmarks (e.g. a grouped count and mean over 10 M rows), created
 * directly inside a caller's DuckDB connection. Deterministic per (seed, idOffset): splitting one table across
 * agents by `idOffset` ranges gives exactly the rows of the pooled table.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

import { ETHNICITY, GENDER, RACE } from './concepts.js';
import { paramsFor, uniformSql } from './random-sql.js';
import { checkInteger } from './site-tables.js';
import { sqlIdentifier } from './sql-text.js';

export interface LargeTableOptions {
  /**
   * Row i (0-based) gets person_id `idOffset + i + 1`; its values depend only on (seed, person_id).
   * @default 0
   */
  idOffset?: number;
  /**
   * Number of distinct values of `group_id` (0 … groups − 1).
   * @default 10
   */
  groups?: number;
  /**
   * Schema of the table (must exist).
   * @default 'main'
   */
  schema?: string;
}

/** Bounds of `value_as_number`, for jobs that must declare them. */
export const LARGE_TABLE_VALUE_BOUNDS = [0, 200] as const;

/**
 * Creates (or replaces) table `tableName` with `rows` rows and columns person_id BIGINT, gender_concept_id
 * INTEGER, year_of_birth INTEGER, race_concept_id INTEGER, ethnicity_concept_id INTEGER, group_id INTEGER and
 * value_as_number DOUBLE (in [0, 200], mean rising with group_id). Returns the number of rows.
 * @throws RangeError or TypeError for bad arguments, naming the argument.
 */
export async function synthesizeLargeTable(
  conn: DuckDBConnection,
  tableName: string,
  rows: number,
  seed: number,
  options: LargeTableOptions = {},
): Promise<number> {
  const table = `${sqlIdentifier(options.schema ?? 'main', 'schema')}.${sqlIdentifier(tableName, 'tableName')}`;
  checkInteger(rows, 'rows', 0, 4_000_000_000);
  checkInteger(seed, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const idOffset = options.idOffset ?? 0;
  checkInteger(idOffset, 'options.idOffset', 0, 4_000_000_000_000);
  const groups = options.groups ?? 10;
  checkInteger(groups, 'options.groups', 1, 1_000_000);
  const pid = 'person_id';
  const sql = `CREATE OR REPLACE TABLE ${table} AS
SELECT
  ${pid},
  CAST(CASE WHEN ${uniformSql(pid, 1)} < 0.49 THEN ${GENDER.male} ELSE ${GENDER.female} END AS INTEGER) AS gender_concept_id,
  CAST(1925 + floor(${uniformSql(pid, 2)} * 80) AS INTEGER) AS year_of_birth,
  CAST(CASE WHEN ${uniformSql(pid, 3)} < 0.7 THEN ${RACE.white} WHEN ${uniformSql(pid, 3)} < 0.85 THEN ${RACE.black}
    WHEN ${uniformSql(pid, 3)} < 0.93 THEN ${RACE.asian} ELSE ${RACE.unknown} END AS INTEGER) AS race_concept_id,
  CAST(CASE WHEN ${uniformSql(pid, 4)} < 0.12 THEN ${ETHNICITY.hispanic} ELSE ${ETHNICITY.notHispanic} END AS INTEGER) AS ethnicity_concept_id,
  CAST(floor(${uniformSql(pid, 5)} * $groups::INTEGER) AS INTEGER) AS group_id,
  CAST(round(least(200.0, 60.0 + 40.0 * (floor(${uniformSql(pid, 5)} * $groups::INTEGER) / $groups::INTEGER)
    + 50.0 * (${uniformSql(pid, 6)} + ${uniformSql(pid, 7)})), 2) AS DOUBLE) AS value_as_number
FROM (SELECT $idOffset::BIGINT + range + 1 AS ${pid} FROM range($rows::BIGINT))`;
  await conn.run(sql, paramsFor(sql, { seed: BigInt(seed), idOffset: BigInt(idOffset), groups, rows: BigInt(rows) }));
  return rows;
}
