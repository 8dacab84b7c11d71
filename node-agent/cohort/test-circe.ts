/**
 * Test support (imported only by `*.test.ts`): compact builders for Circe JSON, and a reader for cohort tables.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseCirce, runCohort } from './index.js';
import type { CohortIR, CohortRunResult } from './index.js';

export interface ItemOpts {
  descendants?: boolean;
  excluded?: boolean;
  mapped?: boolean;
}

export function conceptSet(id: number, items: readonly (number | readonly [number, ItemOpts])[]): object {
  return {
    id,
    name: `set ${id}`,
    expression: {
      items: items.map((it) => {
        const [conceptId, o] = typeof it === 'number' ? [it, {}] : it;
        return {
          concept: { CONCEPT_ID: conceptId, CONCEPT_NAME: `concept ${conceptId}` },
          includeDescendants: o.descendants ?? false,
          isExcluded: o.excluded ?? false,
          includeMapped: o.mapped ?? false,
        };
      }),
    },
  };
}

/** A Circe expression with "All" limits, no window, no rules, pad 0, overridden by `over`. */
export function circe(
  conceptSets: readonly object[],
  criteria: readonly object[],
  over: Record<string, unknown> = {},
  primary: { prior?: number; post?: number; limit?: string } = {},
): Record<string, unknown> {
  return {
    ConceptSets: conceptSets,
    PrimaryCriteria: {
      CriteriaList: criteria,
      ObservationWindow: { PriorDays: primary.prior ?? 0, PostDays: primary.post ?? 0 },
      PrimaryCriteriaLimit: { Type: primary.limit ?? 'All' },
    },
    QualifiedLimit: { Type: 'All' },
    ExpressionLimit: { Type: 'All' },
    InclusionRules: [],
    CensoringCriteria: [],
    CollapseSettings: { CollapseType: 'ERA', EraPad: 0 },
    CensorWindow: {},
    ...over,
  };
}

/** Circe window endpoints: negative days = before the index date. `null` = unbounded on that side. */
export function window(startDays: number | null, endDays: number | null, extra: Record<string, unknown> = {}): object {
  const ep = (d: number | null, unbounded: -1 | 1) =>
    d === null ? { Coeff: unbounded } : { Days: Math.abs(d), Coeff: d < 0 ? -1 : 1 };
  return { Start: ep(startDays, -1), End: ep(endDays, 1), ...extra };
}

export function correlated(
  criteria: object,
  occurrence: { type: 0 | 1 | 2; count: number; distinct?: boolean },
  startWindow: object,
  extra: Record<string, unknown> = {},
): object {
  return {
    Criteria: criteria,
    StartWindow: startWindow,
    Occurrence: { Type: occurrence.type, Count: occurrence.count, IsDistinct: occurrence.distinct ?? false },
    ...extra,
  };
}

export function rule(name: string, expression: Record<string, unknown>): object {
  return {
    name,
    expression: { Type: 'ALL', CriteriaList: [], DemographicCriteriaList: [], Groups: [], ...expression },
  };
}

export type CohortRow = readonly [number, string, string];

/** The cohort table as `[subject_id, 'YYYY-MM-DD', 'YYYY-MM-DD']`, ordered. */
export async function cohortRows(conn: DuckDBConnection, table: string): Promise<CohortRow[]> {
  const r = await conn.runAndReadAll(
    `SELECT subject_id, strftime(cohort_start_date, '%Y-%m-%d') AS s, strftime(cohort_end_date, '%Y-%m-%d') AS e ` +
      `FROM "${table}" ORDER BY subject_id, s`,
  );
  return r.getRowObjectsJS().map((o) => [Number(o['subject_id']), String(o['s']), String(o['e'])] as const);
}

export async function runAndRead(
  conn: DuckDBConnection,
  def: CohortIR | Record<string, unknown>,
): Promise<{ result: CohortRunResult; rows: CohortRow[] }> {
  const ir = 'source' in def ? (def as unknown as CohortIR) : parseCirce(def);
  const result = await runCohort(conn, ir);
  return { result, rows: await cohortRows(conn, result.table) };
}

export const subjects = (rows: readonly CohortRow[]): number[] => [...new Set(rows.map((r) => r[0]))].sort((a, b) => a - b);
