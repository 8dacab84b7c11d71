/**
 * Circe criteria, windows, correlated criteria and criteria groups → IR. Every attribute that is not read here is
 * refused by name (see `rejectUnknownKeys`), because an attribute we skipped could change who is in the cohort.
 */
import type {
  CorrelatedCriterionIR,
  CriteriaGroupIR,
  CriterionDomain,
  CriterionIR,
  DateRangeIR,
  DemographicCriterionIR,
  DistinctColumn,
  GroupType,
  OccurrenceType,
  WindowEndpointIR,
  WindowIR,
} from './ir.js';
import { CRITERION_DOMAINS } from './ir.js';
import type { JsonObject, ParseContext } from './json-read.js';
import { quote } from '../errors.js';
import {
  expectArray,
  expectObject,
  isAbsent,
  isBetween,
  isInert,
  readBoolean,
  readConceptId,
  readDate,
  readDays,
  readInteger,
  readNumericRange,
  readRangeOp,
  rejectUnknownKeys,
} from './json-read.js';

/** Circe criterion types that exist but that fedmesh does not compile. Named so the refusal is explicit. */
const KNOWN_UNSUPPORTED_DOMAINS = [
  'DeviceExposure',
  'DoseEra',
  'ObservationPeriod',
  'PayerPlanPeriod',
  'Specimen',
  'VisitDetail',
  'LocationRegion',
  'Episode',
];

/** Per domain: the Circe attribute names we read, and what they map to. */
interface DomainAttributes {
  readonly startDate: string | null;
  readonly endDate: string | null;
  readonly age: string | null;
  readonly first: boolean;
  readonly value: boolean;
}

const ATTRS: Record<CriterionDomain, DomainAttributes> = {
  ConditionOccurrence: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: true, value: false },
  DrugExposure: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: true, value: false },
  ProcedureOccurrence: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: true, value: false },
  Measurement: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: true, value: true },
  Observation: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: true, value: true },
  VisitOccurrence: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: true, value: false },
  Death: { startDate: 'OccurrenceStartDate', endDate: null, age: 'Age', first: false, value: false },
  DrugEra: { startDate: 'EraStartDate', endDate: 'EraEndDate', age: 'AgeAtStart', first: true, value: false },
  ConditionEra: { startDate: 'EraStartDate', endDate: 'EraEndDate', age: 'AgeAtStart', first: true, value: false },
};

export interface CodesetRegistry {
  has(id: number): boolean;
}

export function readDateRange(ctx: ParseContext, v: unknown, path: string): DateRangeIR {
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Value', 'Op', 'Extent']);
  const op = readRangeOp(ctx, o['Op'], `${path}.Op`);
  const value = readDate(ctx, o['Value'], `${path}.Value`);
  if (isBetween(op)) return { op, value, extent: readDate(ctx, o['Extent'], `${path}.Extent`) };
  return { op, value };
}

/** `[{CONCEPT_ID: 8507, ...}]` → `[8507]`; only the id matters, the other concept fields are descriptive. */
export function readConceptList(ctx: ParseContext, v: unknown, path: string): number[] {
  const arr = expectArray(ctx, v, path);
  return arr.map((c, i) => {
    const o = expectObject(ctx, c, `${path}[${i}]`);
    return readConceptId(ctx, o['CONCEPT_ID'], `${path}[${i}].CONCEPT_ID`);
  });
}

function readCodesetId(ctx: ParseContext, v: unknown, path: string, codesets: CodesetRegistry): number | null {
  if (isAbsent(v)) return null;
  const id = readInteger(ctx, v, path, { min: 0, max: 1_000_000 });
  if (!codesets.has(id)) throw ctx.invalid(path, `refers to concept set ${id}, which is not defined in ConceptSets`);
  return id;
}

/** `{ "ConditionOccurrence": { ... } }` → CriterionIR. */
export function parseCriterion(ctx: ParseContext, v: unknown, path: string, codesets: CodesetRegistry): CriterionIR {
  const wrapper = expectObject(ctx, v, path);
  const keys = Object.keys(wrapper).filter((k) => !isInert(wrapper[k]));
  if (keys.length !== 1) throw ctx.invalid(path, 'must name exactly one criterion type');
  const kind = keys[0] as string;
  const kindPath = `${path}.${kind}`;
  if (!(CRITERION_DOMAINS as readonly string[]).includes(kind)) {
    if (KNOWN_UNSUPPORTED_DOMAINS.includes(kind)) throw ctx.unsupported(kindPath);
    throw ctx.unsupported(kindPath, 'unknown criterion type');
  }
  const domain = kind as CriterionDomain;
  const attrs = ATTRS[domain];
  const o = expectObject(ctx, wrapper[kind], kindPath);

  const known = ['CodesetId', 'Gender', 'CorrelatedCriteria'];
  if (attrs.first) known.push('First');
  if (attrs.startDate) known.push(attrs.startDate);
  if (attrs.endDate) known.push(attrs.endDate);
  if (attrs.age) known.push(attrs.age);
  if (attrs.value) known.push('ValueAsNumber');
  rejectUnknownKeys(ctx, o, kindPath, known);

  const criterion: {
    -readonly [K in keyof CriterionIR]: CriterionIR[K];
  } = {
    domain,
    codesetId: readCodesetId(ctx, o['CodesetId'], `${kindPath}.CodesetId`, codesets),
    first: attrs.first ? readBoolean(ctx, o['First'], `${kindPath}.First`, false) : false,
  };
  if (attrs.startDate && !isAbsent(o[attrs.startDate])) {
    criterion.occurrenceStartDate = readDateRange(ctx, o[attrs.startDate], `${kindPath}.${attrs.startDate}`);
  }
  if (attrs.endDate && !isAbsent(o[attrs.endDate])) {
    criterion.occurrenceEndDate = readDateRange(ctx, o[attrs.endDate], `${kindPath}.${attrs.endDate}`);
  }
  if (attrs.age && !isAbsent(o[attrs.age])) {
    criterion.age = readNumericRange(ctx, o[attrs.age], `${kindPath}.${attrs.age}`, { integer: true });
  }
  if (!isInert(o['Gender'])) criterion.genderConceptIds = readConceptList(ctx, o['Gender'], `${kindPath}.Gender`);
  if (attrs.value && !isAbsent(o['ValueAsNumber'])) {
    criterion.valueAsNumber = readNumericRange(ctx, o['ValueAsNumber'], `${kindPath}.ValueAsNumber`, {
      integer: false,
    });
  }
  if (!isAbsent(o['CorrelatedCriteria'])) {
    const g = parseGroup(ctx, o['CorrelatedCriteria'], `${kindPath}.CorrelatedCriteria`, codesets);
    if (!isEmptyGroup(g)) criterion.correlated = g;
  }
  return criterion;
}

export function isEmptyGroup(g: CriteriaGroupIR): boolean {
  return g.criteria.length === 0 && g.demographics.length === 0 && g.groups.length === 0;
}

const GROUP_TYPES: readonly GroupType[] = ['ALL', 'ANY', 'AT_LEAST', 'AT_MOST'];

export function parseGroup(ctx: ParseContext, v: unknown, path: string, codesets: CodesetRegistry): CriteriaGroupIR {
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Type', 'Count', 'CriteriaList', 'DemographicCriteriaList', 'Groups']);
  let type: GroupType = 'ALL';
  if (!isAbsent(o['Type'])) {
    const t = o['Type'];
    if (typeof t !== 'string' || !(GROUP_TYPES as readonly string[]).includes(t.toUpperCase())) {
      throw ctx.invalid(`${path}.Type`, `must be one of ${GROUP_TYPES.join(', ')}`);
    }
    type = t.toUpperCase() as GroupType;
  }
  let count = 0;
  if (type === 'AT_LEAST' || type === 'AT_MOST') {
    count = readInteger(ctx, o['Count'], `${path}.Count`, { min: 0, max: 1_000_000 });
  }
  const list = (key: string): unknown[] => (isAbsent(o[key]) ? [] : expectArray(ctx, o[key], `${path}.${key}`));
  return {
    type,
    count,
    criteria: list('CriteriaList').map((c, i) => parseCorrelated(ctx, c, `${path}.CriteriaList[${i}]`, codesets)),
    demographics: list('DemographicCriteriaList').map((d, i) =>
      parseDemographic(ctx, d, `${path}.DemographicCriteriaList[${i}]`),
    ),
    groups: list('Groups').map((g, i) => parseGroup(ctx, g, `${path}.Groups[${i}]`, codesets)),
  };
}

function parseEndpoint(ctx: ParseContext, v: unknown, path: string): WindowEndpointIR {
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Days', 'Coeff']);
  const days = isAbsent(o['Days']) ? null : readDays(ctx, o['Days'], `${path}.Days`);
  const coeff = o['Coeff'];
  if (coeff !== -1 && coeff !== 1) throw ctx.invalid(`${path}.Coeff`, 'must be -1 (before) or 1 (after)');
  return { days, coeff };
}

function parseWindow(ctx: ParseContext, v: unknown, path: string, isEndWindow: boolean): WindowIR {
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Start', 'End', 'UseIndexEnd', 'UseEventEnd']);
  return {
    start: parseEndpoint(ctx, o['Start'], `${path}.Start`),
    end: parseEndpoint(ctx, o['End'], `${path}.End`),
    useIndexEnd: readBoolean(ctx, o['UseIndexEnd'], `${path}.UseIndexEnd`, false),
    // Circe: an EndWindow compares the event's END date unless UseEventEnd is explicitly false.
    useEventEnd: readBoolean(ctx, o['UseEventEnd'], `${path}.UseEventEnd`, isEndWindow),
  };
}

const OCCURRENCE_TYPES: Record<number, OccurrenceType> = { 0: 'exactly', 1: 'atMost', 2: 'atLeast' };
const COUNT_COLUMNS: Record<string, DistinctColumn> = {
  DOMAIN_CONCEPT: 'domainConcept',
  START_DATE: 'startDate',
  VISIT_ID: 'visit',
};

function parseCorrelated(
  ctx: ParseContext,
  v: unknown,
  path: string,
  codesets: CodesetRegistry,
): CorrelatedCriterionIR {
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, [
    'Criteria',
    'StartWindow',
    'EndWindow',
    'RestrictVisit',
    'IgnoreObservationPeriod',
    'Occurrence',
  ]);
  const occ = expectObject(ctx, o['Occurrence'], `${path}.Occurrence`);
  rejectUnknownKeys(ctx, occ, `${path}.Occurrence`, ['Type', 'Count', 'IsDistinct', 'CountColumn']);
  const typeNum = occ['Type'];
  const type = typeof typeNum === 'number' ? OCCURRENCE_TYPES[typeNum] : undefined;
  if (!type) throw ctx.invalid(`${path}.Occurrence.Type`, 'must be 0 (exactly), 1 (at most) or 2 (at least)');
  let distinctColumn: DistinctColumn = 'domainConcept';
  if (!isAbsent(occ['CountColumn'])) {
    const cc = occ['CountColumn'];
    const mapped = typeof cc === 'string' ? COUNT_COLUMNS[cc] : undefined;
    if (!mapped) throw ctx.unsupported(`${path}.Occurrence.CountColumn`, `value ${quote(cc)}`);
    distinctColumn = mapped;
  }
  const ir: { -readonly [K in keyof CorrelatedCriterionIR]: CorrelatedCriterionIR[K] } = {
    criterion: parseCriterion(ctx, o['Criteria'], `${path}.Criteria`, codesets),
    startWindow: parseWindow(ctx, o['StartWindow'], `${path}.StartWindow`, false),
    restrictVisit: readBoolean(ctx, o['RestrictVisit'], `${path}.RestrictVisit`, false),
    ignoreObservationPeriod: readBoolean(ctx, o['IgnoreObservationPeriod'], `${path}.IgnoreObservationPeriod`, false),
    occurrence: {
      type,
      count: readInteger(ctx, occ['Count'], `${path}.Occurrence.Count`, { min: 0, max: 1_000_000 }),
      distinct: readBoolean(ctx, occ['IsDistinct'], `${path}.Occurrence.IsDistinct`, false),
      distinctColumn,
    },
  };
  if (!isAbsent(o['EndWindow'])) ir.endWindow = parseWindow(ctx, o['EndWindow'], `${path}.EndWindow`, true);
  return ir;
}

function parseDemographic(ctx: ParseContext, v: unknown, path: string): DemographicCriterionIR {
  const o: JsonObject = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Age', 'Gender', 'Race', 'Ethnicity', 'OccurrenceStartDate', 'OccurrenceEndDate']);
  const d: { -readonly [K in keyof DemographicCriterionIR]: DemographicCriterionIR[K] } = {};
  if (!isAbsent(o['Age'])) d.age = readNumericRange(ctx, o['Age'], `${path}.Age`, { integer: true });
  if (!isInert(o['Gender'])) d.genderConceptIds = readConceptList(ctx, o['Gender'], `${path}.Gender`);
  if (!isInert(o['Race'])) d.raceConceptIds = readConceptList(ctx, o['Race'], `${path}.Race`);
  if (!isInert(o['Ethnicity'])) d.ethnicityConceptIds = readConceptList(ctx, o['Ethnicity'], `${path}.Ethnicity`);
  if (!isAbsent(o['OccurrenceStartDate'])) {
    d.occurrenceStartDate = readDateRange(ctx, o['OccurrenceStartDate'], `${path}.OccurrenceStartDate`);
  }
  if (!isAbsent(o['OccurrenceEndDate'])) {
    d.occurrenceEndDate = readDateRange(ctx, o['OccurrenceEndDate'], `${path}.OccurrenceEndDate`);
  }
  return d;
}
