/**
 * The native fedmesh cohort spec (JSON) → CohortIR. A smaller, stricter language than Circe: one entry event,
 * inclusion rules on age, gender, occurrences of other events in windows around the index date and measurement
 * values, required observation before/after index, and an exit rule. Every field is validated and unknown fields
 * are refused; errors are INVALID_JOB with the field path first (`inclusionRules[1].window.startDays: ...`).
 *
 * ```json
 * {
 *   "name": "GI bleed on NSAIDs",
 *   "entry": { "domain": "condition", "concepts": { "include": [{ "conceptId": 192671, "descendants": true }] },
 *              "occurrence": "first" },
 *   "observation": { "priorDays": 365, "postDays": 0 },
 *   "inclusionRules": [
 *     { "name": "adult", "type": "age", "min": 18 },
 *     { "name": "female", "type": "gender", "conceptIds": [8532] },
 *     { "name": "NSAID in prior 30d", "type": "occurrence", "domain": "drug", "concepts": { "include": [1118084] },
 *       "window": { "startDays": -30, "endDays": 0 }, "count": { "op": "atLeast", "value": 1 } },
 *     { "name": "low Hb", "type": "measurement", "concepts": { "include": [3000963] },
 *       "valueRange": { "max": 10 }, "window": { "startDays": -7, "endDays": 7 } }
 *   ],
 *   "exit": { "type": "fixedOffset", "from": "start", "days": 30 }
 * }
 * ```
 */
import { invalidJob } from '../errors.js';
import type {
  CohortIR,
  ConceptSetIR,
  ConceptSetItemIR,
  CorrelatedCriterionIR,
  CriteriaGroupIR,
  CriterionDomain,
  CriterionIR,
  EndStrategyIR,
  NumericRangeIR,
  OccurrenceType,
} from './ir.js';
import type { JsonObject, ParseContext } from './json-read.js';
import {
  expectArray,
  expectObject,
  isAbsent,
  readBoolean,
  readConceptId,
  readDays,
  readFiniteNumber,
  readInteger,
  readString,
} from './json-read.js';

export type NativeDomain = 'condition' | 'drug' | 'measurement' | 'procedure' | 'visit';

const DOMAINS: Record<NativeDomain, CriterionDomain> = {
  condition: 'ConditionOccurrence',
  drug: 'DrugExposure',
  measurement: 'Measurement',
  procedure: 'ProcedureOccurrence',
  visit: 'VisitOccurrence',
};

const NATIVE_CONTEXT: ParseContext = {
  invalid: (path, message) => invalidJob(path, message),
  unsupported: (path, detail) => invalidJob(path, detail ?? 'unknown field'),
};

function strictKeys(o: JsonObject, path: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw invalidJob(path === '' ? k : `${path}.${k}`, 'unknown field');
  }
}

function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw invalidJob(path, `must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

class ConceptSets {
  readonly sets: ConceptSetIR[] = [];

  /** `{ include: [id | {conceptId, descendants}], exclude?: [...], descendants?: boolean }` → codeset id. */
  add(v: unknown, path: string, name: string): number {
    const ctx = NATIVE_CONTEXT;
    const o = expectObject(ctx, v, path);
    strictKeys(o, path, ['include', 'exclude', 'descendants']);
    const defaultDescendants = readBoolean(ctx, o['descendants'], `${path}.descendants`, false);
    const items = (key: 'include' | 'exclude'): ConceptSetItemIR[] => {
      if (isAbsent(o[key]) && key === 'exclude') return [];
      const arr = expectArray(ctx, o[key], `${path}.${key}`);
      if (key === 'include' && arr.length === 0) throw invalidJob(`${path}.include`, 'must list at least one concept');
      return arr.map((it, i) => {
        const ip = `${path}.${key}[${i}]`;
        if (typeof it === 'number') {
          return {
            conceptId: readConceptId(ctx, it, ip),
            includeDescendants: defaultDescendants,
            isExcluded: key === 'exclude',
            includeMapped: false,
          };
        }
        const io = expectObject(ctx, it, ip);
        strictKeys(io, ip, ['conceptId', 'descendants']);
        return {
          conceptId: readConceptId(ctx, io['conceptId'], `${ip}.conceptId`),
          includeDescendants: readBoolean(ctx, io['descendants'], `${ip}.descendants`, defaultDescendants),
          isExcluded: key === 'exclude',
          includeMapped: false,
        };
      });
    };
    const id = this.sets.length;
    this.sets.push({ id, name, items: [...items('include'), ...items('exclude')] });
    return id;
  }
}

function readValueRange(v: unknown, path: string): NumericRangeIR {
  const ctx = NATIVE_CONTEXT;
  const o = expectObject(ctx, v, path);
  strictKeys(o, path, ['min', 'max']);
  const min = isAbsent(o['min']) ? undefined : readFiniteNumber(ctx, o['min'], `${path}.min`);
  const max = isAbsent(o['max']) ? undefined : readFiniteNumber(ctx, o['max'], `${path}.max`);
  return rangeOf(min, max, path);
}

function rangeOf(min: number | undefined, max: number | undefined, path: string): NumericRangeIR {
  if (min === undefined && max === undefined) throw invalidJob(path, 'needs min, max or both');
  if (min !== undefined && max !== undefined) {
    if (min > max) throw invalidJob(path, 'min must not exceed max');
    return { op: 'bt', value: min, extent: max };
  }
  return min !== undefined ? { op: 'gte', value: min } : { op: 'lte', value: max as number };
}

const EMPTY_GROUP = { criteria: [], demographics: [], groups: [] } as const;

function parseRule(v: unknown, path: string, sets: ConceptSets): { name: string; group: CriteriaGroupIR } {
  const ctx = NATIVE_CONTEXT;
  const o = expectObject(ctx, v, path);
  const type = oneOf(o['type'], `${path}.type`, ['age', 'gender', 'occurrence', 'measurement'] as const);
  const name = isAbsent(o['name']) ? `${type} rule` : readString(ctx, o['name'], `${path}.name`, 200);
  if (type === 'age') {
    strictKeys(o, path, ['name', 'type', 'min', 'max']);
    const min = isAbsent(o['min']) ? undefined : readInteger(ctx, o['min'], `${path}.min`, { min: 0, max: 150 });
    const max = isAbsent(o['max']) ? undefined : readInteger(ctx, o['max'], `${path}.max`, { min: 0, max: 150 });
    return { name, group: { type: 'ALL', count: 0, ...EMPTY_GROUP, demographics: [{ age: rangeOf(min, max, path) }] } };
  }
  if (type === 'gender') {
    strictKeys(o, path, ['name', 'type', 'conceptIds']);
    const ids = expectArray(ctx, o['conceptIds'], `${path}.conceptIds`).map((x, i) =>
      readConceptId(ctx, x, `${path}.conceptIds[${i}]`),
    );
    if (ids.length === 0) throw invalidJob(`${path}.conceptIds`, 'must list at least one concept');
    return { name, group: { type: 'ALL', count: 0, ...EMPTY_GROUP, demographics: [{ genderConceptIds: ids }] } };
  }
  const isMeasurement = type === 'measurement';
  strictKeys(o, path, ['name', 'type', 'concepts', 'window', 'count', 'valueRange', ...(isMeasurement ? [] : ['domain'])]);
  const domain: NativeDomain = isMeasurement
    ? 'measurement'
    : oneOf(o['domain'], `${path}.domain`, Object.keys(DOMAINS) as NativeDomain[]);
  if (isMeasurement && isAbsent(o['valueRange'])) throw invalidJob(`${path}.valueRange`, 'is required');
  if (!isAbsent(o['valueRange']) && domain !== 'measurement') {
    throw invalidJob(`${path}.valueRange`, 'is only allowed for measurements');
  }
  const criterion: CriterionIR = {
    domain: DOMAINS[domain],
    codesetId: sets.add(o['concepts'], `${path}.concepts`, name),
    first: false,
    ...(isAbsent(o['valueRange']) ? {} : { valueAsNumber: readValueRange(o['valueRange'], `${path}.valueRange`) }),
  };
  const win = expectObject(ctx, o['window'], `${path}.window`);
  strictKeys(win, `${path}.window`, ['startDays', 'endDays']);
  const edge = (key: 'startDays' | 'endDays') =>
    isAbsent(win[key]) ? null : readDays(ctx, win[key], `${path}.window.${key}`);
  const startDays = edge('startDays');
  const endDays = edge('endDays');
  if (startDays !== null && endDays !== null && startDays > endDays) {
    throw invalidJob(`${path}.window`, 'startDays must not exceed endDays');
  }
  let occurrence: { type: OccurrenceType; count: number } = { type: 'atLeast', count: 1 };
  if (!isAbsent(o['count'])) {
    const c = expectObject(ctx, o['count'], `${path}.count`);
    strictKeys(c, `${path}.count`, ['op', 'value']);
    occurrence = {
      type: oneOf(c['op'], `${path}.count.op`, ['exactly', 'atMost', 'atLeast'] as const),
      count: readInteger(ctx, c['value'], `${path}.count.value`, { min: 0, max: 1_000_000 }),
    };
  }
  const endpoint = (days: number | null, unboundedCoeff: -1 | 1) =>
    days === null
      ? { days: null, coeff: unboundedCoeff }
      : { days: Math.abs(days), coeff: (days < 0 ? -1 : 1) as -1 | 1 };
  const correlated: CorrelatedCriterionIR = {
    criterion,
    startWindow: {
      start: endpoint(startDays, -1),
      end: endpoint(endDays, 1),
      useIndexEnd: false,
      useEventEnd: false,
    },
    restrictVisit: false,
    ignoreObservationPeriod: false,
    occurrence: { ...occurrence, distinct: false, distinctColumn: 'domainConcept' },
  };
  return { name, group: { type: 'ALL', count: 0, ...EMPTY_GROUP, criteria: [correlated] } };
}

function parseExit(v: unknown): EndStrategyIR {
  if (isAbsent(v)) return { kind: 'observationEnd' };
  const ctx = NATIVE_CONTEXT;
  const o = expectObject(ctx, v, 'exit');
  const type = oneOf(o['type'], 'exit.type', ['observationEnd', 'fixedOffset'] as const);
  if (type === 'observationEnd') {
    strictKeys(o, 'exit', ['type']);
    return { kind: 'observationEnd' };
  }
  strictKeys(o, 'exit', ['type', 'from', 'days']);
  const from = isAbsent(o['from']) ? 'start' : oneOf(o['from'], 'exit.from', ['start', 'end'] as const);
  return { kind: 'dateOffset', dateField: from, offsetDays: readDays(ctx, o['days'], 'exit.days', 0) };
}

/**
 * Parse and validate a native fedmesh cohort spec.
 * @throws FedmeshError INVALID_JOB whose message starts with the path of the field at fault
 */
export function parseNativeCohort(json: unknown): CohortIR {
  const ctx = NATIVE_CONTEXT;
  const root = expectObject(ctx, json, '$');
  strictKeys(root, '', ['name', 'entry', 'observation', 'inclusionRules', 'exit', 'eraPadDays']);
  const sets = new ConceptSets();

  const entry = expectObject(ctx, root['entry'], 'entry');
  strictKeys(entry, 'entry', ['domain', 'concepts', 'occurrence', 'valueRange']);
  const domain = oneOf(entry['domain'], 'entry.domain', Object.keys(DOMAINS) as NativeDomain[]);
  if (!isAbsent(entry['valueRange']) && domain !== 'measurement') {
    throw invalidJob('entry.valueRange', 'is only allowed for measurements');
  }
  const occurrence = isAbsent(entry['occurrence'])
    ? 'first'
    : oneOf(entry['occurrence'], 'entry.occurrence', ['first', 'all'] as const);
  const entryCriterion: CriterionIR = {
    domain: DOMAINS[domain],
    codesetId: sets.add(entry['concepts'], 'entry.concepts', 'entry'),
    first: false,
    ...(isAbsent(entry['valueRange']) ? {} : { valueAsNumber: readValueRange(entry['valueRange'], 'entry.valueRange') }),
  };

  let priorDays = 0;
  let postDays = 0;
  if (!isAbsent(root['observation'])) {
    const ob = expectObject(ctx, root['observation'], 'observation');
    strictKeys(ob, 'observation', ['priorDays', 'postDays']);
    if (!isAbsent(ob['priorDays'])) priorDays = readDays(ctx, ob['priorDays'], 'observation.priorDays', 0);
    if (!isAbsent(ob['postDays'])) postDays = readDays(ctx, ob['postDays'], 'observation.postDays', 0);
  }

  const rulesRaw = isAbsent(root['inclusionRules']) ? [] : expectArray(ctx, root['inclusionRules'], 'inclusionRules');
  if (rulesRaw.length > 62) throw invalidJob('inclusionRules', 'at most 62 rules');
  const inclusionRules = rulesRaw.map((r, i) => parseRule(r, `inclusionRules[${i}]`, sets));

  const limit = occurrence === 'first' ? 'First' : 'All';
  return {
    source: 'native',
    name: isAbsent(root['name']) ? 'native cohort' : readString(ctx, root['name'], 'name', 200),
    conceptSets: sets.sets,
    primary: { criteria: [entryCriterion], priorDays, postDays, limit },
    additionalCriteria: null,
    qualifiedLimit: 'All',
    inclusionRules,
    expressionLimit: limit,
    endStrategy: parseExit(root['exit']),
    censoring: [],
    eraPadDays: isAbsent(root['eraPadDays']) ? 0 : readDays(ctx, root['eraPadDays'], 'eraPadDays', 0),
    censorWindow: {},
  };
}
