/**
 * The follow-up of each person of a target cohort, as SQL common table expressions shared by the survival jobs
 * (Kaplan–Meier counts in survival.ts, the Cox model's per-person rows in cox.ts): time 0 is the person's first
 * entry in the target cohort; follow-up ends at the earliest of the end of the observation period containing the
 * index date, index + maxDays, and death (when the outcome is not death and a `death` table exists); an outcome
 * on or before that end is an event at that day, otherwise the person is censored there.
 */
import { invalidJob } from '../../common/errors.js';
import { findTable, requireCohortTable, requireOmopTable } from './schema.js';
import type { AnalyticsDb, ResolvedTable } from './schema.js';
import { checkConceptList, conceptMapCtes, indexDatesSql } from './sql-params.js';
import type { Params } from './sql-params.js';

export type OutcomeDomain = 'condition' | 'drug' | 'procedure' | 'measurement' | 'death';

/** What the follow-up needs of a survival job's options (validated here or by the caller). */
export interface FollowUpOptions {
  targetTable: string;
  /** A `SurvivalOutcome` (survival.ts); checked here, field by field. */
  outcome: unknown;
  timeGrid: { maxDays: number };
}

const DOMAINS: Record<OutcomeDomain, { table: string; concept: string; date: string }> = {
  condition: { table: 'condition_occurrence', concept: 'condition_concept_id', date: 'condition_start_date' },
  drug: { table: 'drug_exposure', concept: 'drug_concept_id', date: 'drug_exposure_start_date' },
  procedure: { table: 'procedure_occurrence', concept: 'procedure_concept_id', date: 'procedure_date' },
  measurement: { table: 'measurement', concept: 'measurement_concept_id', date: 'measurement_date' },
  death: { table: 'death', concept: 'cause_concept_id', date: 'death_date' },
};

interface OutcomeSource {
  /** CTE definitions to prepend (may be empty). */
  ctes: string;
  /** A relation `(person_id, event_date)`. */
  events: string;
  isDeath: boolean;
}

async function outcomeSource(conn: AnalyticsDb, outcome: unknown, params: Params): Promise<OutcomeSource> {
  if (typeof outcome !== 'object' || outcome === null) throw invalidJob('opts.outcome', 'must be an object');
  const o = outcome as Record<string, unknown>;
  if ('table' in o) {
    if ('domain' in o) throw invalidJob('opts.outcome', 'give either table or domain, not both');
    const t = await requireCohortTable(conn, o['table'], 'opts.outcome.table');
    return {
      ctes: '',
      events: `(SELECT subject_id AS person_id, cohort_start_date AS event_date FROM ${t.sql})`,
      isDeath: false,
    };
  }
  const domain = o['domain'];
  if (typeof domain !== 'string' || !Object.hasOwn(DOMAINS, domain)) {
    throw invalidJob('opts.outcome.domain', `must be one of ${Object.keys(DOMAINS).join(', ')}`);
  }
  const d = DOMAINS[domain as OutcomeDomain];
  const isDeath = domain === 'death';
  const concepts = checkConceptList(o['conceptIds'], 'opts.outcome.conceptIds', { allowEmpty: isDeath });
  const descendants = o['includeDescendants'] ?? true;
  if (typeof descendants !== 'boolean') throw invalidJob('opts.outcome.includeDescendants', 'must be a boolean');
  const table = await requireOmopTable(conn, d.table, ['person_id', d.date, ...(concepts.length > 0 ? [d.concept] : [])]);
  if (concepts.length === 0) {
    return { ctes: '', events: `(SELECT person_id, ${d.date} AS event_date FROM ${table.sql})`, isDeath };
  }
  const ancestor = descendants ? await usableAncestorTable(conn) : undefined;
  return {
    ctes: `${conceptMapCtes('outcome_concepts', concepts, params, ancestor?.sql)},`,
    events: `(SELECT e.person_id, e.${d.date} AS event_date FROM ${table.sql} e
               WHERE e.${d.concept} IN (SELECT concept_id FROM outcome_concepts))`,
    isDeath,
  };
}

async function usableAncestorTable(conn: AnalyticsDb): Promise<ResolvedTable | undefined> {
  const t = await findTable(conn, 'concept_ancestor', 'concept_ancestor');
  return t !== undefined && t.columns.has('ancestor_concept_id') && t.columns.has('descendant_concept_id') ? t : undefined;
}


/**
 * CTEs (without the leading WITH, without a trailing comma) ending with `idx (person_id, index_date)`,
 * `fu (person_id, index_date, obs_end)` and `observed (person_id, is_event, days)`: one row per followed person.
 * @throws FedmeshError INVALID_JOB naming the option at fault; FAILED_PRECONDITION when a table is missing
 */
export async function followUpCtes(conn: AnalyticsDb, opts: FollowUpOptions, params: Params): Promise<string> {
  const x = params.dialect;
  const target = await requireCohortTable(conn, opts.targetTable, 'opts.targetTable');
  const op = await requireOmopTable(conn, 'observation_period', ['person_id', 'observation_period_start_date', 'observation_period_end_date']);
  const outcome = await outcomeSource(conn, opts.outcome, params);
  const death = outcome.isDeath ? undefined : await findTable(conn, 'death', 'death');
  const deathSql = death !== undefined && death.columns.has('person_id') && death.columns.has('death_date') ? death.sql : undefined;
  const maxDays = params.add(opts.timeGrid.maxDays, 'BIGINT');
  return `${outcome.ctes}
    idx AS (${indexDatesSql(target.sql)}),
    fu AS (
      SELECT i.person_id, i.index_date, max(op.observation_period_end_date) AS obs_end
        FROM idx i JOIN ${op.sql} op
          ON op.person_id = i.person_id
         AND i.index_date BETWEEN op.observation_period_start_date AND op.observation_period_end_date
       GROUP BY i.person_id, i.index_date),
    first_event AS (
      SELECT fu.person_id, min(ev.event_date) AS event_date
        FROM fu JOIN ${outcome.events} ev ON ev.person_id = fu.person_id AND ev.event_date >= fu.index_date
       GROUP BY fu.person_id),
    first_death AS (${
      deathSql === undefined
        ? `SELECT ${x.cast('NULL', 'BIGINT')} AS person_id, ${x.cast('NULL', 'DATE')} AS death_date WHERE 1 = 0`
        : `SELECT fu.person_id, min(d.death_date) AS death_date
             FROM fu JOIN ${deathSql} d ON d.person_id = fu.person_id AND d.death_date >= fu.index_date
            GROUP BY fu.person_id`
    }),
    follow AS (
      SELECT fu.person_id,
             least(${x.daysBetween('fu.index_date', 'fu.obs_end')}, ${maxDays},
                   coalesce(${x.daysBetween('fu.index_date', 'fd.death_date')}, ${maxDays})) AS censor_days,
             ${x.daysBetween('fu.index_date', 'fe.event_date')} AS event_days
        FROM fu LEFT JOIN first_event fe ON fe.person_id = fu.person_id
                LEFT JOIN first_death fd ON fd.person_id = fu.person_id),
    observed AS (
      SELECT person_id, ${x.boolValue('event_days <= censor_days')} AS is_event,
             CASE WHEN event_days <= censor_days THEN event_days ELSE censor_days END AS days
        FROM follow)`;
}
