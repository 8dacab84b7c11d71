/**
 * SQL for the building blocks of a cohort: one criterion (events of one OMOP domain), a correlated criterion
 * (counting such events in windows around an index event), a demographic criterion and a criteria group.
 *
 * Every relation an index-event query runs over ("events") has the columns
 *   person_id, event_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id
 * and every criterion query returns
 *   person_id, event_id, start_date, end_date, visit_occurrence_id, sort_date, target_concept_id.
 * Table and column names below are constants of this module; values come in only through `sql-literals.ts`.
 */
import type {
  CorrelatedCriterionIR,
  CriteriaGroupIR,
  CriterionDomain,
  CriterionIR,
  DemographicCriterionIR,
  WindowIR,
} from '../../common/cohort/index.js';
import { duckdbDialect, type SqlDialect } from '../sql/index.js';
import { addDays as addDaysIn, dateRangeClause, intList, intLit, numericRangeClause } from './sql-literals.js';

interface DomainSpec {
  readonly table: string;
  /** Column that identifies a row (Death has none: Circe uses person_id). */
  readonly id: string;
  readonly concept: string;
  readonly start: string;
  /** SQL of the event end date, given the table alias `t` (Circe's defaults when the end is missing). */
  readonly end: string;
  /** Raw end column for `occurrenceEndDate` filters (eras only). */
  readonly rawEnd: string | null;
  readonly hasVisit: boolean;
  readonly hasValue: boolean;
}

/** The domain table specs in one dialect's spelling (built once per dialect). */
function buildDomainSpecs(x: SqlDialect): Record<CriterionDomain, DomainSpec> {
  const d = (col: string): string => x.cast(`t.${col}`, 'DATE');
  const addDays = (e: string, n: number): string => addDaysIn(e, n, x);
  return {
    ConditionOccurrence: {
      table: 'condition_occurrence',
      id: 'condition_occurrence_id',
      concept: 'condition_concept_id',
      start: d('condition_start_date'),
      end: `COALESCE(${d('condition_end_date')}, ${addDays(d('condition_start_date'), 1)})`,
      rawEnd: null,
      hasVisit: true,
      hasValue: false,
    },
    DrugExposure: {
      table: 'drug_exposure',
      id: 'drug_exposure_id',
      concept: 'drug_concept_id',
      start: d('drug_exposure_start_date'),
      end:
        `COALESCE(${d('drug_exposure_end_date')}, ` +
        `${x.addDays(d('drug_exposure_start_date'), 't.days_supply')}, ${addDays(d('drug_exposure_start_date'), 1)})`,
      rawEnd: null,
      hasVisit: true,
      hasValue: false,
    },
    DrugEra: {
      table: 'drug_era',
      id: 'drug_era_id',
      concept: 'drug_concept_id',
      start: d('drug_era_start_date'),
      end: d('drug_era_end_date'),
      rawEnd: d('drug_era_end_date'),
      hasVisit: false,
      hasValue: false,
    },
    ConditionEra: {
      table: 'condition_era',
      id: 'condition_era_id',
      concept: 'condition_concept_id',
      start: d('condition_era_start_date'),
      end: d('condition_era_end_date'),
      rawEnd: d('condition_era_end_date'),
      hasVisit: false,
      hasValue: false,
    },
    ProcedureOccurrence: {
      table: 'procedure_occurrence',
      id: 'procedure_occurrence_id',
      concept: 'procedure_concept_id',
      start: d('procedure_date'),
      end: addDays(d('procedure_date'), 1),
      rawEnd: null,
      hasVisit: true,
      hasValue: false,
    },
    Measurement: {
      table: 'measurement',
      id: 'measurement_id',
      concept: 'measurement_concept_id',
      start: d('measurement_date'),
      end: addDays(d('measurement_date'), 1),
      rawEnd: null,
      hasVisit: true,
      hasValue: true,
    },
    Observation: {
      table: 'observation',
      id: 'observation_id',
      concept: 'observation_concept_id',
      start: d('observation_date'),
      end: addDays(d('observation_date'), 1),
      rawEnd: null,
      hasVisit: true,
      hasValue: true,
    },
    VisitOccurrence: {
      table: 'visit_occurrence',
      id: 'visit_occurrence_id',
      concept: 'visit_concept_id',
      start: d('visit_start_date'),
      end: d('visit_end_date'),
      rawEnd: null,
      hasVisit: true,
      hasValue: false,
    },
    Death: {
      table: 'death',
      id: 'person_id',
      concept: 'cause_concept_id',
      start: d('death_date'),
      end: addDays(d('death_date'), 1),
      rawEnd: null,
      hasVisit: false,
      hasValue: false,
    },
  };
}

const SPECS = new Map<SqlDialect, Record<CriterionDomain, DomainSpec>>();

/** The spec of a criterion domain in `dialect`'s spelling. */
export function domainSpec(domain: CriterionDomain, dialect: SqlDialect): DomainSpec {
  let specs = SPECS.get(dialect);
  if (!specs) SPECS.set(dialect, (specs = buildDomainSpecs(dialect)));
  return specs[domain];
}

/** Names of the working tables a compiled cohort uses (all chosen by the compiler). */
export interface WorkTables {
  readonly dialect: SqlDialect;
  readonly codesets: string;
  /**
   * When present, nested criteria groups are emitted here as `name AS MATERIALIZED (...)` CTEs (in dependency
   * order) and referenced by name, so each group is planned and evaluated once. Inlined, DuckDB's planner time
   * doubled with every nesting level (0.2 s at depth 10, 24 s at depth 18); the caller prefixes the statement with them.
   */
  readonly ctes?: string[];
}

/** The OMOP tables a criterion reads, for the pre-flight check. */
export function tablesOfCriterion(c: CriterionIR, out: Set<string>): void {
  // Table names are the same in every dialect.
  out.add(domainSpec(c.domain, duckdbDialect).table);
  if (c.age !== undefined || c.genderConceptIds !== undefined) out.add('person');
  if (c.correlated) {
    out.add('observation_period');
    tablesOfGroup(c.correlated, out);
  }
}

export function tablesOfGroup(g: CriteriaGroupIR, out: Set<string>): void {
  for (const cc of g.criteria) tablesOfCriterion(cc.criterion, out);
  if (g.demographics.length > 0) out.add('person');
  for (const sub of g.groups) tablesOfGroup(sub, out);
}

/** Events of one domain matching a criterion. */
export function criterionSql(c: CriterionIR, w: WorkTables): string {
  const x = w.dialect;
  const s = domainSpec(c.domain, x);
  const cols = [
    't.person_id',
    `t.${s.id} AS event_id`,
    `${s.start} AS start_date`,
    `${s.end} AS end_date`,
    s.hasVisit
      ? `${x.cast('t.visit_occurrence_id', 'BIGINT')} AS visit_occurrence_id`
      : `${x.cast('NULL', 'BIGINT')} AS visit_occurrence_id`,
    `COALESCE(t.${s.concept}, 0) AS target_concept_id`,
  ];
  if (s.rawEnd) cols.push(`${s.rawEnd} AS raw_end_date`);
  if (s.hasValue && c.valueAsNumber) cols.push(`${x.cast('t.value_as_number', 'DOUBLE')} AS value_as_number`);
  const where: string[] = [];
  if (c.first) {
    // Circe: the person's first matching row in the whole table, before any other filter but the codeset.
    cols.push(`row_number() OVER (PARTITION BY t.person_id ORDER BY ${s.start}, t.${s.id}) AS ordinal`);
    where.push('C.ordinal = 1');
  }
  const codesetJoin =
    c.codesetId === null
      ? ''
      : `\n    JOIN ${w.codesets} cs ON t.${s.concept} = cs.concept_id AND cs.codeset_id = ${intLit(c.codesetId)}`;
  const needsPerson = c.age !== undefined || c.genderConceptIds !== undefined;
  if (c.occurrenceStartDate) where.push(dateRangeClause('C.start_date', c.occurrenceStartDate, x));
  if (c.occurrenceEndDate && s.rawEnd) where.push(dateRangeClause('C.raw_end_date', c.occurrenceEndDate, x));
  if (c.age) where.push(numericRangeClause(`(${x.year('C.start_date')} - PER.year_of_birth)`, c.age, 'integer', x));
  if (c.genderConceptIds) where.push(`PER.gender_concept_id IN (${intList(c.genderConceptIds)})`);
  if (c.valueAsNumber) where.push(numericRangeClause('C.value_as_number', c.valueAsNumber, 'double', x));

  const base =
    `SELECT C.person_id, C.event_id, C.start_date, C.end_date, C.visit_occurrence_id, C.start_date AS sort_date, ` +
    `C.target_concept_id\n  FROM (\n    SELECT ${cols.join(', ')}\n    FROM ${s.table} t${codesetJoin}\n  ) C` +
    (needsPerson ? '\n  JOIN person PER ON C.person_id = PER.person_id' : '') +
    (where.length > 0 ? `\n  WHERE ${where.join('\n    AND ')}` : '');
  if (!c.correlated) return base;

  // A criterion with its own correlated criteria: the event itself is the index for the nested group, measured
  // within the observation period that contains it.
  const events =
    `(SELECT Q.person_id, Q.event_id, Q.start_date, Q.end_date, Q.visit_occurrence_id, ` +
    `${x.cast('OP.observation_period_start_date', 'DATE')} AS op_start_date, ` +
    `${x.cast('OP.observation_period_end_date', 'DATE')} AS op_end_date\n` +
    `   FROM (${base}) Q\n   JOIN observation_period OP ON Q.person_id = OP.person_id ` +
    `AND ${x.cast('OP.observation_period_start_date', 'DATE')} <= Q.start_date ` +
    `AND ${x.cast('OP.observation_period_end_date', 'DATE')} >= Q.start_date)`;
  return (
    `SELECT PE.person_id, PE.event_id, PE.start_date, PE.end_date, PE.visit_occurrence_id, PE.sort_date, ` +
    `PE.target_concept_id\n  FROM (${base}) PE\n  JOIN (${groupSql(c.correlated, events, w)}) AC ` +
    `ON AC.person_id = PE.person_id AND AC.event_id = PE.event_id`
  );
}

/** Circe window semantics, relative to the index event P for a candidate event A. */
function windowClauses(win: WindowIR, checkObservationPeriod: boolean, x: SqlDialect): string[] {
  const index = win.useIndexEnd ? 'P.end_date' : 'P.start_date';
  const event = win.useEventEnd ? 'A.end_date' : 'A.start_date';
  const bound = (e: WindowIR['start']): string | null => {
    if (e.days !== null) return addDaysIn(index, e.coeff * e.days, x);
    // An unbounded side runs to the edge of the index observation period, unless that is ignored.
    if (!checkObservationPeriod) return null;
    return e.coeff === -1 ? 'P.op_start_date' : 'P.op_end_date';
  };
  const out: string[] = [];
  const lo = bound(win.start);
  if (lo !== null) out.push(`${event} >= ${lo}`);
  const hi = bound(win.end);
  if (hi !== null) out.push(`${event} <= ${hi}`);
  return out;
}

const OCCURRENCE_OPS = { exactly: '=', atMost: '<=', atLeast: '>=' } as const;
const DISTINCT_COLUMNS = { domainConcept: 'A.target_concept_id', startDate: 'A.start_date', visit: 'A.visit_occurrence_id' };

/** (person_id, event_id) of the index events that satisfy a correlated criterion. */
export function correlatedSql(cc: CorrelatedCriterionIR, events: string, w: WorkTables): string {
  const checkOp = !cc.ignoreObservationPeriod;
  const on: string[] = ['A.person_id = P.person_id'];
  if (checkOp) on.push('A.start_date >= P.op_start_date AND A.start_date <= P.op_end_date');
  on.push(...windowClauses(cc.startWindow, checkOp, w.dialect));
  if (cc.endWindow) on.push(...windowClauses(cc.endWindow, checkOp, w.dialect));
  if (cc.restrictVisit) on.push('A.visit_occurrence_id = P.visit_occurrence_id');
  const counted = cc.occurrence.distinct
    ? `COUNT(DISTINCT ${DISTINCT_COLUMNS[cc.occurrence.distinctColumn]})`
    : 'COUNT(A.event_id)';
  // A LEFT JOIN keeps index events with no matching event, so "exactly 0" and "at most n" count them as 0.
  return (
    `SELECT P.person_id, P.event_id\n  FROM ${events} P\n  LEFT JOIN (${criterionSql(cc.criterion, w)}) A\n` +
    `    ON ${on.join('\n    AND ')}\n  GROUP BY P.person_id, P.event_id\n` +
    `  HAVING ${counted} ${OCCURRENCE_OPS[cc.occurrence.type]} ${intLit(cc.occurrence.count)}`
  );
}

export function demographicSql(dc: DemographicCriterionIR, events: string, x: SqlDialect): string {
  const where: string[] = [];
  if (dc.age) where.push(numericRangeClause(`(${x.year('E.start_date')} - PER.year_of_birth)`, dc.age, 'integer', x));
  if (dc.genderConceptIds) where.push(`PER.gender_concept_id IN (${intList(dc.genderConceptIds)})`);
  if (dc.raceConceptIds) where.push(`PER.race_concept_id IN (${intList(dc.raceConceptIds)})`);
  if (dc.ethnicityConceptIds) where.push(`PER.ethnicity_concept_id IN (${intList(dc.ethnicityConceptIds)})`);
  if (dc.occurrenceStartDate) where.push(dateRangeClause('E.start_date', dc.occurrenceStartDate, x));
  if (dc.occurrenceEndDate) where.push(dateRangeClause('E.end_date', dc.occurrenceEndDate, x));
  return (
    `SELECT E.person_id, E.event_id\n  FROM ${events} E\n  JOIN person PER ON PER.person_id = E.person_id` +
    (where.length > 0 ? `\n  WHERE ${where.join(' AND ')}` : '') +
    '\n  GROUP BY E.person_id, E.event_id'
  );
}

/**
 * (person_id, event_id) of the events satisfying a group: count how many members (criteria, demographics,
 * sub-groups) each event satisfies and compare with what the group type asks for.
 */
export function groupSql(g: CriteriaGroupIR, events: string, w: WorkTables): string {
  const members = [
    ...g.criteria.map((cc) => correlatedSql(cc, events, w)),
    ...g.demographics.map((dc) => demographicSql(dc, events, w.dialect)),
    ...g.groups.map((sub) => {
      const inner = groupSql(sub, events, w);
      if (!w.ctes) return inner;
      const name = `fedmesh_group_${w.ctes.length}`;
      w.ctes.push(w.dialect.materializedCte(name, inner));
      return `SELECT person_id, event_id FROM ${name}`;
    }),
  ];
  if (members.length === 0) return `SELECT E.person_id, E.event_id FROM ${events} E`;
  let having: string;
  switch (g.type) {
    case 'ALL':
      having = `= ${intLit(members.length)}`;
      break;
    case 'ANY':
      having = '> 0';
      break;
    case 'AT_LEAST':
      having = `>= ${intLit(g.count)}`;
      break;
    case 'AT_MOST':
      having = `<= ${intLit(g.count)}`;
      break;
  }
  // Each member yields at most one row per index event, so the count is the number of members satisfied.
  return (
    `SELECT E.person_id, E.event_id\n  FROM ${events} E\n  LEFT JOIN (\n${members.join('\n  UNION ALL\n')}\n  ) CQ ` +
    `ON E.person_id = CQ.person_id AND E.event_id = CQ.event_id\n  GROUP BY E.person_id, E.event_id\n` +
    `  HAVING COUNT(CQ.event_id) ${having}`
  );
}
