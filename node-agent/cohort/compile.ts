/**
 * CohortIR → SQL (DuckDB, PostgreSQL, … through `opts.dialect`) over the OMOP CDM tables of the current database.
 *
 * The pipeline is Circe's (Book of OHDSI, "Defining Cohorts"; OHDSI circe-be), stage by stage:
 *   codesets → primary events (in an observation period, observation window, primary limit)
 *   → qualified events (additional criteria, qualified limit) → inclusion events (one row per rule satisfied)
 *   → included events (all rules, expression limit) → end dates (observation end / date offset / custom era,
 *   censoring events) → eras (collapse with EraPad) → censor window → target table.
 * Working tables are TEMP tables named after the target table; `cleanupStatements` drops them.
 */
import type { CohortIR, ConceptSetIR, ConceptSetItemIR, CriterionIR, EndStrategyIR, LimitType } from '../../common/cohort/index.js';
import { criterionSql, groupSql, tablesOfCriterion, tablesOfGroup } from './sql-events.js';
import type { WorkTables } from './sql-events.js';
import { addDays as addDaysIn, checkIdentifier, dateLit, intList, intLit } from './sql-literals.js';
import { duckdbDialect, type SqlDialect } from '../sql/index.js';

export interface CompileCohortOptions {
  /**
   * Name of the table the cohort is written to (a plain identifier; replaced if it exists).
   * @default 'fedmesh_cohort'
   */
  targetTable?: string;
  /** The engine the SQL is for. @default duckdbDialect */
  dialect?: SqlDialect;
}

export interface CompiledStatement {
  readonly sql: string;
  readonly params?: unknown[];
}

export interface CompiledCohort {
  /** Run in order; the last one writes `cohortTable (subject_id BIGINT, cohort_start_date DATE, cohort_end_date DATE)`. */
  readonly statements: readonly CompiledStatement[];
  readonly cohortTable: string;
  /**
   * Rows `(rule_index, persons, entries)`, one per inclusion rule in order, counting those that satisfy every rule
   * up to and including it (ATLAS's attrition view). Absent when there are no inclusion rules.
   */
  readonly attritionSql?: string;
  /** One row `(persons, entries)`: qualified events before any inclusion rule (ATLAS's base count). */
  readonly qualifiedSql: string;
  /** The persons behind `qualifiedSql` (rows `person_id`), for the differencing guard. */
  readonly qualifiedPersonsSql: string;
  /** The persons behind `attritionSql`'s persons (rows `(rule_index, person_id)`), for the differencing guard. */
  readonly attritionPersonsSql?: string;
  /** Drops the TEMP working tables. */
  readonly cleanupStatements: readonly string[];
  /** OMOP tables (or views) the statements read; `runCohort` checks they exist first. */
  readonly requiredTables: readonly string[];
}

const DEFAULT_TARGET = 'fedmesh_cohort';

/**
 * Compile a cohort to SQL.
 * @throws RangeError when `opts.targetTable` is not a plain identifier
 */
export function compileCohort(ir: CohortIR, opts: CompileCohortOptions = {}): CompiledCohort {
  const target = checkIdentifier(opts.targetTable ?? DEFAULT_TARGET);
  const x = opts.dialect ?? duckdbDialect;
  const plain = {
    codesets: `${target}__codesets`,
    qualified: `${target}__qualified`,
    inclusion: `${target}__inclusion`,
    included: `${target}__included`,
  };
  const names = {
    codesets: x.tempTable(plain.codesets),
    qualified: x.tempTable(plain.qualified),
    inclusion: x.tempTable(plain.inclusion),
    included: x.tempTable(plain.included),
  };
  // Each statement gets its own list of materialised group CTEs (see WorkTables.ctes): SQL linear in the definition.
  const stmt = (build: (w: WorkTables) => string): string => {
    const w: WorkTables = { dialect: x, codesets: names.codesets, ctes: [] };
    return withCtes(w.ctes!, build(w));
  };
  const create = (name: string, query: string): CompiledStatement[] => x.createTempTableAs(name, query).map((sql) => ({ sql }));
  const statements: CompiledStatement[] = [
    ...create(plain.codesets, codesetsSql(ir.conceptSets, x)),
    ...create(plain.qualified, qualifiedSql(ir, { dialect: x, codesets: names.codesets, ctes: [] })),
    ...create(plain.inclusion, stmt((w) => inclusionSql(ir, names.qualified, w))),
    ...create(plain.included, includedSql(ir.inclusionRules.length, ir.expressionLimit, names.qualified, names.inclusion)),
    ...create(target, stmt((w) => finalSql(ir, names.included, w))),
  ];
  return {
    statements,
    cohortTable: target,
    ...(ir.inclusionRules.length > 0
      ? { attritionSql: attritionSql(ir.inclusionRules.length, names.qualified, names.inclusion, x), attritionPersonsSql: attritionSql(ir.inclusionRules.length, names.qualified, names.inclusion, x, true) }
      : {}),
    qualifiedSql: `SELECT COUNT(DISTINCT person_id) AS persons, COUNT(*) AS entries FROM ${names.qualified}`,
    qualifiedPersonsSql: `SELECT DISTINCT person_id FROM ${names.qualified}`,
    cleanupStatements: Object.values(plain).map((n) => x.dropTempTable(n)),
    requiredTables: requiredTables(ir),
  };
}

function requiredTables(ir: CohortIR): string[] {
  const out = new Set<string>(['observation_period']);
  const items = ir.conceptSets.flatMap((cs) => cs.items);
  if (items.length > 0) out.add('concept');
  if (items.some((i) => i.includeDescendants)) out.add('concept_ancestor');
  if (items.some((i) => i.includeMapped)) out.add('concept_relationship');
  for (const c of ir.primary.criteria) tablesOfCriterion(c, out);
  for (const c of ir.censoring) tablesOfCriterion(c, out);
  if (ir.additionalCriteria) tablesOfGroup(ir.additionalCriteria, out);
  for (const r of ir.inclusionRules) tablesOfGroup(r.group, out);
  if (ir.endStrategy.kind === 'customEra') out.add('drug_exposure');
  return [...out].sort();
}

// ---------------------------------------------------------------------------------------------------------------
// Codesets

/** Concepts listed, plus (for those flagged) their valid descendants in concept_ancestor. */
function conceptsSql(concepts: readonly ConceptSetItemIR[]): string {
  const parts: string[] = [];
  if (concepts.length > 0) {
    parts.push(`SELECT concept_id FROM concept WHERE concept_id IN (${intList(concepts.map((c) => c.conceptId))})`);
  }
  const withDescendants = concepts.filter((c) => c.includeDescendants);
  if (withDescendants.length > 0) {
    parts.push(
      `SELECT c.concept_id FROM concept c JOIN concept_ancestor ca ON c.concept_id = ca.descendant_concept_id ` +
        `WHERE c.invalid_reason IS NULL AND ca.ancestor_concept_id IN (${intList(withDescendants.map((x) => x.conceptId))})`,
    );
  }
  return parts.join('\n    UNION ');
}

/** Circe's concept set expression: included ∪ mapped-from-included, minus (excluded ∪ mapped-from-excluded). */
function conceptSideSql(items: readonly ConceptSetItemIR[]): string {
  if (items.length === 0) return 'SELECT concept_id FROM concept WHERE 1 = 0';
  let sql = conceptsSql(items);
  const mapped = items.filter((i) => i.includeMapped);
  if (mapped.length > 0) {
    sql +=
      `\n    UNION SELECT cr.concept_id_1 AS concept_id FROM (${conceptsSql(mapped)}) M ` +
      `JOIN concept_relationship cr ON M.concept_id = cr.concept_id_2 ` +
      `AND cr.relationship_id = 'Maps to' AND cr.invalid_reason IS NULL`;
  }
  return sql;
}

function conceptSetSql(cs: ConceptSetIR, x: SqlDialect): string {
  const include = cs.items.filter((i) => !i.isExcluded);
  const exclude = cs.items.filter((i) => i.isExcluded);
  let sql = `SELECT DISTINCT ${x.cast(intLit(cs.id), 'INTEGER')} AS codeset_id, ${x.cast('I.concept_id', 'BIGINT')} AS concept_id\n  FROM (\n    ${conceptSideSql(include)}\n  ) I`;
  if (exclude.length > 0) {
    sql += `\n  WHERE NOT EXISTS (SELECT 1 FROM (\n    ${conceptSideSql(exclude)}\n  ) X WHERE X.concept_id = I.concept_id)`;
  }
  return sql;
}

function codesetsSql(sets: readonly ConceptSetIR[], x: SqlDialect): string {
  const empty = `SELECT ${x.cast('NULL', 'INTEGER')} AS codeset_id, ${x.cast('NULL', 'BIGINT')} AS concept_id WHERE 1 = 0`;
  return [empty, ...sets.map((cs) => conceptSetSql(cs, x))].join('\nUNION ALL\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Events

const sortDir = (limit: LimitType): string => (limit === 'Last' ? 'DESC' : 'ASC');
const limitFilter = (limit: LimitType, alias: string): string => (limit === 'All' ? '' : `\nWHERE ${alias}.ordinal = 1`);

function primaryEventsSql(ir: CohortIR, w: WorkTables): string {
  const p = ir.primary;
  const x = w.dialect;
  const addDays = (e: string, n: number): string => addDaysIn(e, n, x);
  const OP_START = x.cast('OP.observation_period_start_date', 'DATE');
  const OP_END = x.cast('OP.observation_period_end_date', 'DATE');
  const union = p.criteria.map((c) => criterionSql(c, w)).join('\n  UNION ALL\n  ');
  // event_id is the event's rank within the person (Circe's), so it is unique per person.
  return (
    `SELECT P.ordinal AS event_id, P.person_id, P.start_date, P.end_date, P.op_start_date, P.op_end_date, ` +
    `P.visit_occurrence_id\nFROM (\n  SELECT E.person_id, E.start_date, E.end_date, E.visit_occurrence_id,\n` +
    `    row_number() OVER (PARTITION BY E.person_id ORDER BY E.sort_date ${sortDir(p.limit)}, E.event_id) AS ordinal,\n` +
    `    ${OP_START} AS op_start_date, ${OP_END} AS op_end_date\n  FROM (\n  ${union}\n  ) E\n` +
    `  JOIN observation_period OP ON E.person_id = OP.person_id AND E.start_date >= ${OP_START} ` +
    `AND E.start_date <= ${OP_END}\n` +
    `  WHERE ${addDays(OP_START, p.priorDays)} <= E.start_date AND ${addDays('E.start_date', p.postDays)} <= ${OP_END}\n) P` +
    limitFilter(p.limit, 'P')
  );
}

/** Prefixes a query with CTEs; a query that has its own WITH list keeps it, after them. */
function withCtes(ctes: readonly string[], query: string): string {
  if (ctes.length === 0) return query;
  const rest = query.startsWith('WITH ') ? `,\n${query.slice(5)}` : `\n${query}`;
  return `WITH ${ctes.join(',\n')}${rest}`;
}

function qualifiedSql(ir: CohortIR, w: WorkTables): string {
  // Group CTEs of the primary criteria come before primary_events; those of AdditionalCriteria read it, so after.
  const primary = primaryEventsSql(ir, w);
  const before = w.ctes ? w.ctes.splice(0) : [];
  const ac = ir.additionalCriteria
    ? `\n  JOIN (${groupSql(ir.additionalCriteria, 'primary_events', w)}) AC ` +
      `ON AC.person_id = pe.person_id AND AC.event_id = pe.event_id`
    : '';
  const after = w.ctes ? w.ctes.splice(0) : [];
  return (
    `WITH ${[...before, `primary_events AS (\n${primary}\n)`, ...after].join(',\n')}\n` +
    `SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id\nFROM (\n` +
    `  SELECT pe.*, row_number() OVER (PARTITION BY pe.person_id ORDER BY pe.start_date ${sortDir(ir.qualifiedLimit)}, ` +
    `pe.event_id) AS ordinal\n  FROM primary_events pe${ac}\n) QE` +
    limitFilter(ir.qualifiedLimit, 'QE')
  );
}

function inclusionSql(ir: CohortIR, qualified: string, w: WorkTables): string {
  const x = w.dialect;
  const empty =
    `SELECT ${x.cast('NULL', 'INTEGER')} AS inclusion_rule_id, ${x.cast('NULL', 'BIGINT')} AS person_id, ` +
    `${x.cast('NULL', 'BIGINT')} AS event_id WHERE 1 = 0`;
  const rules = ir.inclusionRules.map(
    (r, i) =>
      `SELECT ${x.cast(intLit(i), 'INTEGER')} AS inclusion_rule_id, R.person_id, R.event_id FROM (\n` +
      `${groupSql(r.group, qualified, w)}\n) R`,
  );
  return [empty, ...rules].join('\nUNION ALL\n');
}

function includedSql(ruleCount: number, limit: LimitType, qualified: string, inclusion: string): string {
  const allRules =
    ruleCount === 0
      ? ''
      : `\n  JOIN (SELECT person_id, event_id FROM ${inclusion} GROUP BY person_id, event_id ` +
        `HAVING COUNT(DISTINCT inclusion_rule_id) = ${intLit(ruleCount)}) M ` +
        `ON M.person_id = Q.person_id AND M.event_id = Q.event_id`;
  return (
    `SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id\nFROM (\n` +
    `  SELECT Q.*, row_number() OVER (PARTITION BY Q.person_id ORDER BY Q.start_date ${sortDir(limit)}, Q.event_id) ` +
    `AS ordinal\n  FROM ${qualified} Q${allRules}\n) R` +
    limitFilter(limit, 'R')
  );
}

// ---------------------------------------------------------------------------------------------------------------
// End dates, eras, censor window

/**
 * Gaps-and-islands over `(person_id, start_date, end_date)` rows of `source`: rows whose padded intervals touch or
 * overlap merge. Yields CTE text defining `<name>_eras(person_id, era_start, era_end_padded)`.
 */
function erasCtes(name: string, source: string, padDays: number, x: SqlDialect): string {
  return (
    `${name}_padded AS (SELECT person_id, start_date, ${addDaysIn('end_date', padDays, x)} AS end_date FROM ${source}),\n` +
    `${name}_marked AS (\n  SELECT person_id, start_date, end_date,\n` +
    `    CASE WHEN max(end_date) OVER (PARTITION BY person_id ORDER BY start_date, end_date ` +
    `ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= start_date THEN 0 ELSE 1 END AS is_start\n` +
    `  FROM ${name}_padded\n),\n` +
    `${name}_grouped AS (\n  SELECT person_id, start_date, end_date,\n` +
    `    sum(is_start) OVER (PARTITION BY person_id ORDER BY start_date, is_start DESC, end_date ` +
    `ROWS UNBOUNDED PRECEDING) AS era_idx\n  FROM ${name}_marked\n),\n` +
    `${name}_eras AS (\n  SELECT person_id, min(start_date) AS era_start, max(end_date) AS era_end_padded\n` +
    `  FROM ${name}_grouped GROUP BY person_id, era_idx\n)`
  );
}

function strategyCtes(s: EndStrategyIR, included: string, w: WorkTables): string[] {
  const x = w.dialect;
  const addDays = (e: string, n: number): string => addDaysIn(e, n, x);
  if (s.kind === 'observationEnd') return [];
  if (s.kind === 'dateOffset') {
    const field = s.dateField === 'start' ? 'start_date' : 'end_date';
    const shifted = addDays(field, s.offsetDays);
    // CASE, not LEAST: a missing end date must stay NULL (and drop the entry) as in Circe, not fall back.
    return [
      `strategy_ends AS (\n  SELECT event_id, person_id, CASE WHEN ${shifted} > op_end_date THEN op_end_date ` +
        `ELSE ${shifted} END AS end_date\n  FROM ${included}\n)`,
    ];
  }
  const start = x.cast('de.drug_exposure_start_date', 'DATE');
  const end =
    s.daysSupplyOverride !== null
      ? addDays(start, s.daysSupplyOverride)
      : `COALESCE(${x.cast('de.drug_exposure_end_date', 'DATE')}, ${x.addDays(start, 'de.days_supply')}, ${addDays(start, 1)})`;
  const exposures = (conceptColumn: string): string =>
    `SELECT de.person_id, ${start} AS start_date, ${end} AS end_date\n  FROM drug_exposure de\n` +
    `  JOIN (SELECT DISTINCT person_id FROM ${included}) ip ON de.person_id = ip.person_id\n` +
    `  JOIN ${w.codesets} cs ON cs.codeset_id = ${intLit(s.drugCodesetId)} AND de.${conceptColumn} = cs.concept_id`;
  // Circe pads each exposure by GapDays + Offset before merging, then takes the era end back by GapDays.
  return [
    `drug_target AS (\n  ${exposures('drug_concept_id')}\n  UNION ALL\n  ${exposures('drug_source_concept_id')}\n)`,
    erasCtes('drug', 'drug_target', s.gapDays + s.offsetDays, x),
    `strategy_ends AS (\n  SELECT et.event_id, et.person_id, ${addDays('ER.era_end_padded', -s.gapDays)} AS end_date\n` +
      `  FROM ${included} et JOIN drug_eras ER ON ER.person_id = et.person_id\n` +
      `  WHERE et.start_date >= ER.era_start AND et.start_date <= ${addDays('ER.era_end_padded', -s.gapDays)}\n)`,
  ];
}

function censoringSql(censoring: readonly CriterionIR[], included: string, w: WorkTables): string {
  const union = censoring.map((c) => criterionSql(c, w)).join('\n    UNION ALL\n    ');
  return (
    `SELECT i.event_id, i.person_id, min(c.start_date) AS end_date\n  FROM ${included} i\n  JOIN (\n    ${union}\n  ) c ` +
    `ON c.person_id = i.person_id AND c.start_date >= i.start_date AND c.start_date <= i.op_end_date\n` +
    `  GROUP BY i.event_id, i.person_id`
  );
}

function finalSql(ir: CohortIR, included: string, w: WorkTables): string {
  const x = w.dialect;
  const ctes = strategyCtes(ir.endStrategy, included, w);
  const ends: string[] = [];
  // Circe: the observation period end bounds every strategy except DateOffset, which caps itself.
  if (ir.endStrategy.kind !== 'dateOffset') {
    ends.push(`SELECT event_id, person_id, op_end_date AS end_date FROM ${included}`);
  }
  if (ir.endStrategy.kind !== 'observationEnd') ends.push('SELECT event_id, person_id, end_date FROM strategy_ends');
  if (ir.censoring.length > 0) ends.push(censoringSql(ir.censoring, included, w));
  ctes.push(`cohort_ends AS (\n  ${ends.join('\n  UNION ALL\n  ')}\n)`);
  // Each entry ends at the earliest end on or after its start; an entry with none is dropped.
  ctes.push(
    `cohort_rows AS (\n  SELECT I.person_id, I.start_date, min(CE.end_date) AS end_date\n  FROM ${included} I\n` +
      `  JOIN cohort_ends CE ON I.event_id = CE.event_id AND I.person_id = CE.person_id AND CE.end_date >= I.start_date\n` +
      `  GROUP BY I.person_id, I.event_id, I.start_date\n)`,
  );
  ctes.push(erasCtes('cohort', 'cohort_rows', ir.eraPadDays, x));
  let start = 'era_start';
  let end = addDaysIn('era_end_padded', -ir.eraPadDays, x);
  const cw = ir.censorWindow;
  if (cw.start) start = `CASE WHEN ${start} > ${dateLit(cw.start, x)} THEN ${start} ELSE ${dateLit(cw.start, x)} END`;
  if (cw.end) end = `CASE WHEN ${end} < ${dateLit(cw.end, x)} THEN ${end} ELSE ${dateLit(cw.end, x)} END`;
  const where = cw.start || cw.end ? `\nWHERE ${start} <= ${end}` : '';
  return (
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${x.cast('person_id', 'BIGINT')} AS subject_id, ${x.cast(start, 'DATE')} AS cohort_start_date, ` +
    `${x.cast(end, 'DATE')} AS cohort_end_date\nFROM cohort_eras${where}\nORDER BY subject_id, cohort_start_date`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Attrition

/**
 * ATLAS's inclusion-rule attrition. Entries ("by event", Circe mode 0): qualified events satisfying rules 0..k.
 * Persons ("by person", Circe mode 1): each person's best event (most rules satisfied, then lowest first rule id,
 * then earliest) satisfying rules 0..k. Both before ExpressionLimit, era collapse and censor window.
 */
function attritionSql(ruleCount: number, qualified: string, inclusion: string, x: SqlDialect, persons = false): string {
  const big = (e: string): string => x.cast(e, 'BIGINT');
  // persons: the same ranking, and per rule the persons counted in its `persons` (each person's best event).
  const select = persons
    ? `SELECT r.k AS rule_index, b.person_id\nFROM rules r JOIN ranked b ON b.rank_value = 1 AND (b.mask & r.prefix) = r.prefix`
    : `SELECT r.k AS rule_index,\n` +
      `  COUNT(CASE WHEN b.rank_value = 1 AND (b.mask & r.prefix) = r.prefix THEN 1 END) AS persons,\n` +
      `  COUNT(CASE WHEN (b.mask & r.prefix) = r.prefix THEN 1 END) AS entries\n` +
      `FROM rules r LEFT JOIN ranked b ON 1 = 1\nGROUP BY r.k\nORDER BY r.k`;
  return (
    `WITH mg AS (\n  SELECT Q.person_id, Q.event_id, Q.start_date,\n` +
    // A sum of distinct powers of two is their bitwise OR: portable where bit_or is not (T-SQL has no such aggregate;
    // PostgreSQL's sum of BIGINT is NUMERIC, hence the cast back).
    `    COALESCE(${big(`sum(DISTINCT ${big('1')} << I.inclusion_rule_id)`)}, ${big('0')}) AS mask,\n` +
    `    COUNT(DISTINCT I.inclusion_rule_id) AS rule_count, COALESCE(min(I.inclusion_rule_id), 0) AS min_rule_id\n` +
    `  FROM ${qualified} Q LEFT JOIN ${inclusion} I ON I.person_id = Q.person_id AND I.event_id = Q.event_id\n` +
    `  GROUP BY Q.person_id, Q.event_id, Q.start_date\n),\n` +
    `ranked AS (\n  SELECT ${persons ? 'person_id, ' : ''}mask, row_number() OVER (PARTITION BY person_id ORDER BY rule_count DESC, min_rule_id, ` +
    `start_date, event_id) AS rank_value\n  FROM mg\n),\n` +
    `rules AS (SELECT s.k, (${big('1')} << (s.k + 1)) - 1 AS prefix FROM ${x.integerSeries(ruleCount, 's', 'k')})\n` +
    select
  );
}
