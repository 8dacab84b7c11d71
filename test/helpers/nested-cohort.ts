/** Circe definitions whose one inclusion rule nests criteria groups `depth` levels deep (issue 8 #6). Test-only. */
export function nestedCirce(depth: number, criteriaPerGroup = 1): Record<string, unknown> {
  const crit = {
    Criteria: { ConditionOccurrence: { CodesetId: 1 } },
    StartWindow: { Start: { Days: 365, Coeff: -1 }, End: { Days: 0, Coeff: 1 } },
    Occurrence: { Type: 2, Count: 1, IsDistinct: false },
  };
  const list = Array.from({ length: criteriaPerGroup }, () => crit);
  let g: Record<string, unknown> = { Type: 'ALL', CriteriaList: list, DemographicCriteriaList: [], Groups: [] };
  for (let i = 1; i < depth; i++) g = { Type: i % 2 ? 'ANY' : 'ALL', CriteriaList: list, DemographicCriteriaList: [], Groups: [g] };
  return {
    ConceptSets: [{ id: 1, name: 'c', expression: { items: [{ concept: { CONCEPT_ID: 201826 }, isExcluded: false, includeDescendants: false, includeMapped: false }] } }],
    PrimaryCriteria: { CriteriaList: [{ ConditionOccurrence: { CodesetId: 1 } }], ObservationWindow: { PriorDays: 0, PostDays: 0 }, PrimaryCriteriaLimit: { Type: 'All' } },
    QualifiedLimit: { Type: 'All' },
    ExpressionLimit: { Type: 'All' },
    InclusionRules: [{ name: 'deep', expression: g }],
    CensoringCriteria: [],
    CollapseSettings: { CollapseType: 'ERA', EraPad: 0 },
    CensorWindow: {},
  };
}
