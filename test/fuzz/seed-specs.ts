import type { Json } from './mutate.js';
import type { FuzzRand } from './rand.js';

/**
 * Valid job specs of every kind and privacy variant, on the products `fedmesh synth` makes. The fuzzer mutates
 * these, so most mutants are one or two steps from a job the coordinator would run.
 */
const nativeCohort: Json = {
  name: 'type 2 diabetes, 40+',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826, descendants: true }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [
    { name: 'age 40+', type: 'age', min: 40 },
    { name: 'metformin before', type: 'occurrence', domain: 'drug', concepts: { include: [1503297] }, window: { startDays: -365, endDays: 0 }, count: { op: 'atLeast', value: 1 } },
  ],
  exit: { type: 'fixedOffset', from: 'start', days: 365 },
};

function conceptSet(id: number, conceptId: number): Json {
  return { id, name: `set ${id}`, expression: { items: [{ concept: { CONCEPT_ID: conceptId, CONCEPT_NAME: `c${conceptId}` }, includeDescendants: true, isExcluded: false, includeMapped: false }] } };
}

const correlatedDrug: Json = {
  Criteria: { DrugExposure: { CodesetId: 1 } },
  StartWindow: { Start: { Days: 365, Coeff: -1 }, End: { Days: 0, Coeff: 1 } },
  Occurrence: { Type: 2, Count: 1, IsDistinct: false },
};

/** A Circe inclusion-rule group nested `depth` levels deep (depth 1 = one group with a criterion). */
export function nestedCirceGroup(depth: number, width = 1): Json {
  let g: Json = { Type: 'ALL', CriteriaList: [correlatedDrug], DemographicCriteriaList: [], Groups: [] };
  for (let i = 1; i < depth; i++) g = { Type: i % 2 ? 'ANY' : 'ALL', CriteriaList: [correlatedDrug], DemographicCriteriaList: [], Groups: Array.from({ length: width }, () => g) };
  return g;
}

export function circeCohort(ruleGroup: Json = nestedCirceGroup(2)): Json {
  return {
    ConceptSets: [conceptSet(0, 201826), conceptSet(1, 1503297)],
    PrimaryCriteria: { CriteriaList: [{ ConditionOccurrence: { CodesetId: 0 } }], ObservationWindow: { PriorDays: 0, PostDays: 0 }, PrimaryCriteriaLimit: { Type: 'First' } },
    QualifiedLimit: { Type: 'First' },
    ExpressionLimit: { Type: 'First' },
    InclusionRules: [{ name: 'metformin', expression: ruleGroup }],
    CensoringCriteria: [],
    CollapseSettings: { CollapseType: 'ERA', EraPad: 0 },
    CensorWindow: {},
  };
}

const dp: Json[] = [
  { mode: 'central-dp', epsilon: 1, delta: 1e-6 },
  { mode: 'central-dp', epsilon: 0.5 },
  { mode: 'central-dp', rho: 0.05 },
  { mode: 'local-dp', rho: 0.05 },
  { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 3 },
];

/** Seed specs: every kind in mode none, the DP modes, and the secure variants (some refused by policy: fine). */
export function seedSpecs(): Json[] {
  const agg = (privacy: Json, extra: Record<string, Json> = {}): Json => ({
    kind: 'aggregate',
    product: 'person',
    where: [{ column: 'year_of_birth', op: '>=', value: 1950 }],
    groupBy: ['gender_concept_id'],
    measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }],
    privacy,
    timeoutMs: 5_000,
    ...extra,
  });
  const specs: Json[] = [
    agg({ mode: 'none' }),
    ...dp.map((p) => agg(p)),
    agg({ mode: 'central-dp', epsilon: 1, delta: 1e-6 }, { groupKeys: { gender_concept_id: [8507, 8532] } }),
    { kind: 'aggregate', product: 'person', where: [], groupBy: [], measures: [{ fn: 'histogram', column: 'year_of_birth', bins: [1930, 1950, 1970, 1990, 2010] }, { fn: 'variance', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' }, timeoutMs: 5_000 },
    { kind: 'aggregate', product: 'person', where: [{ column: 'gender_concept_id', op: 'in', value: [8507, 8532] }, { column: 'year_of_birth', op: 'between', value: [1940, 2000] }], groupBy: [], measures: [{ fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2030], quantiles: [0.25, 0.5, 0.75], candidates: 101 }], privacy: { mode: 'central-dp', epsilon: 1 }, timeoutMs: 5_000 },
    { kind: 'aggregate', product: 'measurement', where: [{ column: 'measurement_concept_id', op: '=', value: 3004410 }, { column: 'value_as_number', op: 'is not null' }], groupBy: [], measures: [{ fn: 'sum', column: 'value_as_number', bounds: [3, 15] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 5 }, timeoutMs: 5_000 },
    agg({ mode: 'none' }, { secure: 'secagg', groupKeys: { gender_concept_id: [8507, 8532] } }),
    agg({ mode: 'distributed-dp', rho: 0.1, tolerated: 0 }, { secure: 'secagg', groupKeys: { gender_concept_id: [8507, 8532] }, secureThreshold: 2, secureMaxRows: 100_000 }),
    agg({ mode: 'distributed-dp', rho: 0.1 }, { secure: 'he', groupKeys: { gender_concept_id: [8507, 8532] } }),
    { kind: 'cohort', definition: nativeCohort, privacy: { mode: 'none' }, timeoutMs: 5_000 },
    { kind: 'cohort', definition: nativeCohort, ageBands: [0, 40, 60, 200], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, timeoutMs: 5_000 },
    { kind: 'cohort', definition: circeCohort(), privacy: { mode: 'none' }, timeoutMs: 5_000 },
    { kind: 'cohort', definition: circeCohort(), privacy: { mode: 'distributed-dp', rho: 0.1 }, secure: 'secagg', timeoutMs: 5_000 },
    { kind: 'characterize', definition: nativeCohort, conditionConcepts: [320128, 46271022], drugConcepts: [1503297], windowDays: [-365, 0], privacy: { mode: 'none' }, timeoutMs: 5_000 },
    { kind: 'characterize', definition: circeCohort(), conditionConcepts: [320128], drugConcepts: [], privacy: { mode: 'central-dp', rho: 0.1 }, timeoutMs: 5_000 },
    { kind: 'survival', target: nativeCohort, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 180, maxDays: 3650 }, strata: 'gender', privacy: { mode: 'none' }, timeoutMs: 5_000 },
    { kind: 'survival', target: nativeCohort, outcome: { definition: nativeCohort }, timeGrid: { binDays: 365, maxDays: 3650 }, strata: 'none', privacy: { mode: 'central-dp', epsilon: 2, delta: 1e-6 }, timeoutMs: 5_000 },
    { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516, 8515, 0], where: [], privacy: { mode: 'none' }, timeoutMs: 5_000 },
    { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516], privacy: { mode: 'local-dp', rho: 0.1 }, timeoutMs: 5_000 },
  ];
  return specs;
}

/**
 * Structure-aware hostile specs the blind mutator rarely reaches: deep or wide Circe rule groups, tiny and huge
 * privacy parameters, many group keys times many bins.
 */
export function targetedSpec(r: FuzzRand): Json {
  switch (r.int(4)) {
    case 0: {
      const depth = r.pick([3, 8, 12, 30, 200, 2_000]);
      return { kind: 'cohort', definition: circeCohort(nestedCirceGroup(depth)), privacy: { mode: 'none' }, timeoutMs: 5_000 };
    }
    case 1: {
      const wide = { Type: 'ANY', CriteriaList: Array.from({ length: r.pick([10, 300, 3_000]) }, () => correlatedDrug), DemographicCriteriaList: [], Groups: [] };
      return { kind: 'cohort', definition: circeCohort(wide), privacy: { mode: 'none' }, timeoutMs: 5_000 };
    }
    case 2: {
      const field = r.pick(['epsilon', 'delta', 'rho']);
      const value = r.pick([1e-300, 1e-100, 1e-50, 3e-16, 1e-16, 1e-10, 5e-324, 1e21, 1e300, 0.99, 1 - 1e-16]);
      const privacy: Record<string, Json> = { mode: r.pick(['central-dp', 'local-dp']), epsilon: 1, delta: 1e-6 };
      if (field === 'rho') {
        delete privacy.epsilon;
        delete privacy.delta;
      }
      privacy[field] = value;
      return { kind: 'aggregate', product: 'person', where: [], groupBy: [], measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy, timeoutMs: 5_000 };
    }
    default: {
      const keys = r.pick([10, 1_000, 10_000]);
      const bins = r.pick([5, 100, 300, 700]);
      return {
        kind: 'aggregate',
        product: 'person',
        where: [],
        groupBy: ['year_of_birth'],
        groupKeys: { year_of_birth: Array.from({ length: keys }, (_, i) => 1000 + i) },
        measures: [{ fn: 'histogram', column: 'month_of_birth', bins: Array.from({ length: bins + 1 }, (_, i) => i) }],
        privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 },
        timeoutMs: 5_000,
      };
    }
  }
}
