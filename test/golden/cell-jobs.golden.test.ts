import { goldenSuite, type GoldenCase } from './golden-suite.js';

/**
 * Golden tests of the cohort-level kinds (cohort, characterize, survival, contingency): today's results, pinned
 * through the real pipeline for every privacy mode and secure mode each supports. See README.md in this folder.
 */
const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }],
};
/** The same cohort in OHDSI Circe JSON, with descendants: the other parser. */
const diabetesCirce = {
  ConceptSets: [{ id: 0, name: 'type 2 diabetes', expression: { items: [{ concept: { CONCEPT_ID: 201826 }, includeDescendants: true, isExcluded: false, includeMapped: false }] } }],
  PrimaryCriteria: { CriteriaList: [{ ConditionOccurrence: { CodesetId: 0, First: true } }], ObservationWindow: { PriorDays: 0, PostDays: 0 }, PrimaryCriteriaLimit: { Type: 'First' } },
  QualifiedLimit: { Type: 'First' },
  ExpressionLimit: { Type: 'First' },
  InclusionRules: [{ name: 'age 40+', expression: { Type: 'ALL', CriteriaList: [], DemographicCriteriaList: [{ Age: { Value: 40, Op: 'gte' } }], Groups: [] } }],
  CensoringCriteria: [],
  CollapseSettings: { CollapseType: 'ERA', EraPad: 0 },
};
const cohort = { kind: 'cohort', definition: diabetes };
const characterize = { kind: 'characterize', definition: diabetes, conditionConcepts: [320128, 46271022], drugConcepts: [1503297] };
const survival = { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, strata: 'gender' };
const contingency = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516, 8515, 0] };

const CASES: GoldenCase[] = [
  // cohort
  { name: 'cohort none/plain native definition', spec: { ...cohort, privacy: { mode: 'none' } } },
  { name: 'cohort none/plain Circe definition, custom age bands', spec: { kind: 'cohort', definition: diabetesCirce, ageBands: [0, 50, 65, 200], privacy: { mode: 'none' } } },
  { name: 'cohort central-dp/plain epsilon only', spec: { ...cohort, privacy: { mode: 'central-dp', epsilon: 2 } } },
  { name: 'cohort central-dp/plain epsilon and delta', spec: { ...cohort, privacy: { mode: 'central-dp', epsilon: 2, delta: 1e-6 } } },
  { name: 'cohort local-dp/plain rho', spec: { ...cohort, privacy: { mode: 'local-dp', rho: 1 } } },
  { name: 'cohort none/secagg', spec: { ...cohort, privacy: { mode: 'none' }, secure: 'secagg' } },
  { name: 'cohort distributed-dp/secagg rho', spec: { ...cohort, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'secagg' } },
  { name: 'cohort none/he', spec: { ...cohort, privacy: { mode: 'none' }, secure: 'he' } },
  { name: 'cohort distributed-dp/he rho', spec: { ...cohort, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'he' } },
  // characterize
  { name: 'characterize none/plain', spec: { ...characterize, privacy: { mode: 'none' } } },
  { name: 'characterize central-dp/plain epsilon only', spec: { ...characterize, privacy: { mode: 'central-dp', epsilon: 3 } } },
  { name: 'characterize local-dp/plain epsilon and delta', spec: { ...characterize, privacy: { mode: 'local-dp', epsilon: 3, delta: 1e-6 } } },
  { name: 'characterize none/secagg', spec: { ...characterize, privacy: { mode: 'none' }, secure: 'secagg' } },
  { name: 'characterize distributed-dp/secagg rho', spec: { ...characterize, privacy: { mode: 'distributed-dp', rho: 2 }, secure: 'secagg' } },
  // survival
  { name: 'survival none/plain by gender', spec: { ...survival, privacy: { mode: 'none' } } },
  { name: 'survival central-dp/plain unstratified, rho', spec: { ...survival, strata: 'none', privacy: { mode: 'central-dp', rho: 0.5 } } },
  { name: 'survival local-dp/plain by gender, epsilon only', spec: { ...survival, privacy: { mode: 'local-dp', epsilon: 4 } } },
  { name: 'survival none/secagg by gender', spec: { ...survival, privacy: { mode: 'none' }, secure: 'secagg' } },
  { name: 'survival distributed-dp/secagg unstratified, rho', spec: { ...survival, strata: 'none', privacy: { mode: 'distributed-dp', rho: 0.5 }, secure: 'secagg' } },
  { name: 'survival none/he by gender', spec: { ...survival, privacy: { mode: 'none' }, secure: 'he' } },
  // contingency
  { name: 'contingency none/plain', spec: { ...contingency, privacy: { mode: 'none' } } },
  { name: 'contingency none/plain with where, string levels', spec: { kind: 'contingency', product: 'vitals', rowColumn: 'smoking', colColumn: 'visit', rowLevels: ['smoker', 'non-smoker'], colLevels: [0, 1, 2], where: [{ column: 'bmi', op: 'is not null' }, { column: 'visit', op: '<=', value: 1 }], privacy: { mode: 'none' } } },
  { name: 'contingency central-dp/plain epsilon only', spec: { ...contingency, privacy: { mode: 'central-dp', epsilon: 2 } } },
  { name: 'contingency local-dp/plain rho', spec: { ...contingency, privacy: { mode: 'local-dp', rho: 1 } } },
  { name: 'contingency none/secagg', spec: { ...contingency, privacy: { mode: 'none' }, secure: 'secagg' } },
  { name: 'contingency distributed-dp/secagg epsilon and delta', spec: { ...contingency, privacy: { mode: 'distributed-dp', epsilon: 2, delta: 1e-6 }, secure: 'secagg' } },
  { name: 'contingency distributed-dp/he rho', spec: { ...contingency, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'he' } },
];

goldenSuite('cell-jobs', 'golden: cohort, characterize, survival and contingency jobs', CASES, 'contingency distributed-dp/secagg epsilon and delta');
