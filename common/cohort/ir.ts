/**
 * The typed intermediate representation (IR) of a cohort definition. Both front-ends (OHDSI Circe JSON and the
 * native fedmesh cohort spec) produce it; the SQL compiler consumes only it. Every number in it has been validated
 * (finite, integer where an integer is meant) and every date is a checked calendar date, so the compiler can emit
 * them as numeric literals without ever copying a string from the input into SQL.
 *
 * The semantics follow OHDSI Circe (circe-be) as documented in the Book of OHDSI, chapter "Defining Cohorts".
 */

/** The OMOP CDM event domains a criterion can select from. */
export type CriterionDomain =
  | 'ConditionOccurrence'
  | 'DrugExposure'
  | 'DrugEra'
  | 'ConditionEra'
  | 'ProcedureOccurrence'
  | 'Measurement'
  | 'Observation'
  | 'VisitOccurrence'
  | 'Death';

export const CRITERION_DOMAINS: readonly CriterionDomain[] = [
  'ConditionOccurrence',
  'DrugExposure',
  'DrugEra',
  'ConditionEra',
  'ProcedureOccurrence',
  'Measurement',
  'Observation',
  'VisitOccurrence',
  'Death',
];

/** One item of a concept set expression. */
export interface ConceptSetItemIR {
  readonly conceptId: number;
  /** Also take every descendant in `concept_ancestor` (valid concepts only). */
  readonly includeDescendants: boolean;
  /** Remove this concept (and, with `includeDescendants`, its descendants) from the set. */
  readonly isExcluded: boolean;
  /** Also take the source concepts that map to it through `concept_relationship` 'Maps to'. */
  readonly includeMapped: boolean;
}

export interface ConceptSetIR {
  /** The codeset id criteria refer to (`CodesetId`). */
  readonly id: number;
  readonly name: string;
  readonly items: readonly ConceptSetItemIR[];
}

export type RangeOp = 'lt' | 'lte' | 'eq' | '!eq' | 'gt' | 'gte' | 'bt' | '!bt';

export interface NumericRangeIR {
  readonly op: RangeOp;
  readonly value: number;
  /** Upper bound, only for `bt` / `!bt` (inclusive). */
  readonly extent?: number;
}

/** A calendar date, validated, kept as its parts so SQL can be built from integers only. */
export interface CalendarDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

export interface DateRangeIR {
  readonly op: RangeOp;
  readonly value: CalendarDate;
  readonly extent?: CalendarDate;
}

/** Selects events of one domain. */
export interface CriterionIR {
  readonly domain: CriterionDomain;
  /** Concept set the domain concept must belong to; `null` selects every row of the domain. */
  readonly codesetId: number | null;
  /** Keep only each person's earliest matching row in the whole table (before any other filter but the codeset). */
  readonly first: boolean;
  readonly occurrenceStartDate?: DateRangeIR;
  readonly occurrenceEndDate?: DateRangeIR;
  /** Age at the event: `year(start) - year_of_birth` (Circe's definition). Integer range. */
  readonly age?: NumericRangeIR;
  readonly genderConceptIds?: readonly number[];
  /** Measurement `value_as_number` range. */
  readonly valueAsNumber?: NumericRangeIR;
  /** A nested criteria group the event itself must satisfy (Circe `CorrelatedCriteria` on a criterion). */
  readonly correlated?: CriteriaGroupIR;
}

export interface WindowEndpointIR {
  /** Days from the index date; `null` means unbounded (to the observation period edge unless it is ignored). */
  readonly days: number | null;
  /** -1 = before the index date, +1 = after. */
  readonly coeff: -1 | 1;
}

export interface WindowIR {
  readonly start: WindowEndpointIR;
  readonly end: WindowEndpointIR;
  /** Measure from the index event's end date instead of its start date. */
  readonly useIndexEnd: boolean;
  /** Compare the correlated event's end date instead of its start date. */
  readonly useEventEnd: boolean;
}

export type OccurrenceType = 'exactly' | 'atMost' | 'atLeast';

export type DistinctColumn = 'domainConcept' | 'startDate' | 'visit';

export interface OccurrenceIR {
  readonly type: OccurrenceType;
  readonly count: number;
  /** Count distinct values of `distinctColumn` instead of rows. */
  readonly distinct: boolean;
  readonly distinctColumn: DistinctColumn;
}

/** "Having <occurrence> of <criterion> in <windows> relative to the index event." */
export interface CorrelatedCriterionIR {
  readonly criterion: CriterionIR;
  readonly startWindow: WindowIR;
  readonly endWindow?: WindowIR;
  readonly restrictVisit: boolean;
  readonly ignoreObservationPeriod: boolean;
  readonly occurrence: OccurrenceIR;
}

export interface DemographicCriterionIR {
  readonly age?: NumericRangeIR;
  readonly genderConceptIds?: readonly number[];
  readonly raceConceptIds?: readonly number[];
  readonly ethnicityConceptIds?: readonly number[];
  readonly occurrenceStartDate?: DateRangeIR;
  readonly occurrenceEndDate?: DateRangeIR;
}

export type GroupType = 'ALL' | 'ANY' | 'AT_LEAST' | 'AT_MOST';

/** A boolean group: how many of its members (criteria, demographics, sub-groups) an event must satisfy. */
export interface CriteriaGroupIR {
  readonly type: GroupType;
  /** Used by AT_LEAST / AT_MOST. */
  readonly count: number;
  readonly criteria: readonly CorrelatedCriterionIR[];
  readonly demographics: readonly DemographicCriterionIR[];
  readonly groups: readonly CriteriaGroupIR[];
}

export type LimitType = 'First' | 'All' | 'Last';

export interface InclusionRuleIR {
  readonly name: string;
  readonly group: CriteriaGroupIR;
}

export type EndStrategyIR =
  /** Default: the cohort entry ends at the end of the observation period containing the index event. */
  | { readonly kind: 'observationEnd' }
  /** Index start (or end) date plus `offsetDays`, capped at the observation period end. */
  | { readonly kind: 'dateOffset'; readonly dateField: 'start' | 'end'; readonly offsetDays: number }
  /** End of the drug era (built from a codeset's drug exposures) that contains the index date. */
  | {
      readonly kind: 'customEra';
      readonly drugCodesetId: number;
      readonly gapDays: number;
      readonly offsetDays: number;
      readonly daysSupplyOverride: number | null;
    };

export interface CohortIR {
  readonly source: 'circe' | 'native';
  readonly name: string;
  readonly conceptSets: readonly ConceptSetIR[];
  readonly primary: {
    readonly criteria: readonly CriterionIR[];
    readonly priorDays: number;
    readonly postDays: number;
    readonly limit: LimitType;
  };
  /** Circe `AdditionalCriteria`; `null` when absent. */
  readonly additionalCriteria: CriteriaGroupIR | null;
  /**
   * Circe applies `QualifiedLimit` only when `AdditionalCriteria` is present; the front-end resolves that, so this
   * is the limit actually applied ('All' otherwise).
   */
  readonly qualifiedLimit: LimitType;
  readonly inclusionRules: readonly InclusionRuleIR[];
  readonly expressionLimit: LimitType;
  readonly endStrategy: EndStrategyIR;
  /** Events that end a cohort entry early (at their start date). */
  readonly censoring: readonly CriterionIR[];
  /** Entries closer than this many days are merged into one era. */
  readonly eraPadDays: number;
  readonly censorWindow: { readonly start?: CalendarDate; readonly end?: CalendarDate };
}
