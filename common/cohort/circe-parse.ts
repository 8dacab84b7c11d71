/**
 * OHDSI Circe cohort expression (the JSON that ATLAS exports) → CohortIR.
 *
 * Supported: ConceptSets (includeDescendants, isExcluded, includeMapped); PrimaryCriteria over the domains in
 * `CRITERION_DOMAINS`; ObservationWindow; PrimaryCriteriaLimit, QualifiedLimit, ExpressionLimit (First/All/Last);
 * AdditionalCriteria; InclusionRules; CensoringCriteria; CensorWindow; CollapseSettings (ERA + EraPad);
 * EndStrategy DateOffset and CustomEra. Anything else is refused with INVALID_JOB naming the construct.
 */
import { FedmeshError, quote } from '../errors.js';
import { isEmptyGroup, parseCriterion, parseGroup } from './circe-criteria.js';
import type { CodesetRegistry } from './circe-criteria.js';
import type { CohortIR, ConceptSetIR, ConceptSetItemIR, EndStrategyIR, LimitType } from './ir.js';
import type { JsonObject, ParseContext } from './json-read.js';
import {
  expectArray,
  expectObject,
  isAbsent,
  isInert,
  readBoolean,
  readConceptId,
  readDate,
  readDays,
  readInteger,
  readString,
  rejectUnknownKeys,
} from './json-read.js';

/** Circe bit-masks inclusion rules in a BIGINT; the same bound keeps our attrition masks exact. */
export const MAX_INCLUSION_RULES = 62;

const CIRCE_CONTEXT: ParseContext = {
  invalid(path, message) {
    return new FedmeshError('INVALID_JOB', `Circe expression invalid: ${path}: ${message}`, { field: path });
  },
  unsupported(path, detail) {
    const suffix = detail ? ` (${detail})` : '';
    return new FedmeshError('INVALID_JOB', `Circe construct not supported: ${path}${suffix}`, { field: path });
  },
};

const TOP_LEVEL_KEYS = [
  'ConceptSets',
  'PrimaryCriteria',
  'AdditionalCriteria',
  'QualifiedLimit',
  'ExpressionLimit',
  'InclusionRules',
  'EndStrategy',
  'CensoringCriteria',
  'CollapseSettings',
  'CensorWindow',
];
/** Descriptive keys that never change who is in the cohort. */
const TOP_LEVEL_INFORMATIONAL = ['cdmVersionRange', 'Title', 'title', 'Description', 'description', 'id', 'name'];

/**
 * Parse an OHDSI Circe cohort expression.
 *
 * @param json the parsed JSON value (an object, not a string)
 * @throws FedmeshError INVALID_JOB naming the unsupported construct (`Circe construct not supported: <path>`) or the
 *   invalid field (`Circe expression invalid: <path>: <reason>`)
 */
export function parseCirce(json: unknown): CohortIR {
  const ctx = CIRCE_CONTEXT;
  const root = expectObject(ctx, json, '$');
  rejectUnknownKeys(ctx, root, '', TOP_LEVEL_KEYS, TOP_LEVEL_INFORMATIONAL);

  const conceptSets = isAbsent(root['ConceptSets'])
    ? []
    : expectArray(ctx, root['ConceptSets'], 'ConceptSets').map((cs, i) => parseConceptSet(ctx, cs, i));
  const ids = new Set<number>();
  conceptSets.forEach((cs, i) => {
    if (ids.has(cs.id)) throw ctx.invalid(`ConceptSets[${i}].id`, `duplicate concept set id ${cs.id}`);
    ids.add(cs.id);
  });
  const codesets: CodesetRegistry = { has: (id) => ids.has(id) };

  const pc = expectObject(ctx, root['PrimaryCriteria'], 'PrimaryCriteria');
  rejectUnknownKeys(ctx, pc, 'PrimaryCriteria', ['CriteriaList', 'ObservationWindow', 'PrimaryCriteriaLimit']);
  const criteriaList = expectArray(ctx, pc['CriteriaList'], 'PrimaryCriteria.CriteriaList');
  if (criteriaList.length === 0) throw ctx.invalid('PrimaryCriteria.CriteriaList', 'must not be empty');
  const primaryCriteria = criteriaList.map((c, i) =>
    parseCriterion(ctx, c, `PrimaryCriteria.CriteriaList[${i}]`, codesets),
  );
  let priorDays = 0;
  let postDays = 0;
  if (!isAbsent(pc['ObservationWindow'])) {
    const ow = expectObject(ctx, pc['ObservationWindow'], 'PrimaryCriteria.ObservationWindow');
    rejectUnknownKeys(ctx, ow, 'PrimaryCriteria.ObservationWindow', ['PriorDays', 'PostDays']);
    priorDays = isAbsent(ow['PriorDays']) ? 0 : readDays(ctx, ow['PriorDays'], 'PrimaryCriteria.ObservationWindow.PriorDays', 0);
    postDays = isAbsent(ow['PostDays']) ? 0 : readDays(ctx, ow['PostDays'], 'PrimaryCriteria.ObservationWindow.PostDays', 0);
  }

  // Circe applies QualifiedLimit only when an AdditionalCriteria object is present (even an empty one).
  const hasAdditional = !isAbsent(root['AdditionalCriteria']);
  const additional = hasAdditional ? parseGroup(ctx, root['AdditionalCriteria'], 'AdditionalCriteria', codesets) : null;
  const qualifiedLimit = readLimit(ctx, root['QualifiedLimit'], 'QualifiedLimit');

  const rulesRaw = isAbsent(root['InclusionRules']) ? [] : expectArray(ctx, root['InclusionRules'], 'InclusionRules');
  if (rulesRaw.length > MAX_INCLUSION_RULES) {
    throw ctx.unsupported('InclusionRules', `more than ${MAX_INCLUSION_RULES} rules`);
  }
  const inclusionRules = rulesRaw.map((r, i) => {
    const path = `InclusionRules[${i}]`;
    const o = expectObject(ctx, r, path);
    rejectUnknownKeys(ctx, o, path, ['name', 'expression'], ['description']);
    const name = isAbsent(o['name']) ? `rule ${i}` : readString(ctx, o['name'], `${path}.name`);
    return { name, group: parseGroup(ctx, o['expression'], `${path}.expression`, codesets) };
  });

  const censoring = isAbsent(root['CensoringCriteria'])
    ? []
    : expectArray(ctx, root['CensoringCriteria'], 'CensoringCriteria').map((c, i) =>
        parseCriterion(ctx, c, `CensoringCriteria[${i}]`, codesets),
      );

  return {
    source: 'circe',
    name: typeof root['Title'] === 'string' ? root['Title'].slice(0, 200) : 'circe cohort',
    conceptSets,
    primary: {
      criteria: primaryCriteria,
      priorDays,
      postDays,
      limit: readLimit(ctx, pc['PrimaryCriteriaLimit'], 'PrimaryCriteria.PrimaryCriteriaLimit'),
    },
    additionalCriteria: additional && !isEmptyGroup(additional) ? additional : null,
    qualifiedLimit: hasAdditional ? qualifiedLimit : 'All',
    inclusionRules,
    expressionLimit: readLimit(ctx, root['ExpressionLimit'], 'ExpressionLimit'),
    endStrategy: parseEndStrategy(ctx, root['EndStrategy'], codesets),
    censoring,
    eraPadDays: parseCollapse(ctx, root['CollapseSettings']),
    censorWindow: parseCensorWindow(ctx, root['CensorWindow']),
  };
}

function parseConceptSet(ctx: ParseContext, v: unknown, index: number): ConceptSetIR {
  const path = `ConceptSets[${index}]`;
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['id', 'expression'], ['name']);
  const id = readInteger(ctx, o['id'], `${path}.id`, { min: 0, max: 1_000_000 });
  const name = typeof o['name'] === 'string' ? o['name'].slice(0, 200) : `concept set ${id}`;
  const expr = expectObject(ctx, o['expression'], `${path}.expression`);
  rejectUnknownKeys(ctx, expr, `${path}.expression`, ['items']);
  const items = expectArray(ctx, expr['items'], `${path}.expression.items`).map((it, j): ConceptSetItemIR => {
    const ip = `${path}.expression.items[${j}]`;
    const item = expectObject(ctx, it, ip);
    rejectUnknownKeys(ctx, item, ip, ['concept', 'includeDescendants', 'isExcluded', 'includeMapped']);
    const concept: JsonObject = expectObject(ctx, item['concept'], `${ip}.concept`);
    return {
      conceptId: readConceptId(ctx, concept['CONCEPT_ID'], `${ip}.concept.CONCEPT_ID`),
      includeDescendants: readBoolean(ctx, item['includeDescendants'], `${ip}.includeDescendants`, false),
      isExcluded: readBoolean(ctx, item['isExcluded'], `${ip}.isExcluded`, false),
      includeMapped: readBoolean(ctx, item['includeMapped'], `${ip}.includeMapped`, false),
    };
  });
  return { id, name, items };
}

function readLimit(ctx: ParseContext, v: unknown, path: string): LimitType {
  if (isAbsent(v)) return 'First';
  const o = expectObject(ctx, v, path);
  rejectUnknownKeys(ctx, o, path, ['Type']);
  if (isAbsent(o['Type'])) return 'First';
  const t = o['Type'];
  const norm = typeof t === 'string' ? t.toLowerCase() : '';
  if (norm === 'first') return 'First';
  if (norm === 'all') return 'All';
  if (norm === 'last') return 'Last';
  throw ctx.invalid(`${path}.Type`, 'must be First, All or Last');
}

function parseEndStrategy(ctx: ParseContext, v: unknown, codesets: CodesetRegistry): EndStrategyIR {
  if (isAbsent(v)) return { kind: 'observationEnd' };
  const o = expectObject(ctx, v, 'EndStrategy');
  rejectUnknownKeys(ctx, o, 'EndStrategy', ['DateOffset', 'CustomEra']);
  const present = ['DateOffset', 'CustomEra'].filter((k) => !isInert(o[k]));
  if (present.length === 0) return { kind: 'observationEnd' };
  if (present.length > 1) throw ctx.invalid('EndStrategy', 'must have exactly one of DateOffset, CustomEra');
  if (present[0] === 'DateOffset') {
    const path = 'EndStrategy.DateOffset';
    const d = expectObject(ctx, o['DateOffset'], path);
    rejectUnknownKeys(ctx, d, path, ['DateField', 'Offset', 'OffsetUnit', 'OffsetUnitValue']);
    const df = isAbsent(d['DateField']) ? 'StartDate' : d['DateField'];
    if (df !== 'StartDate' && df !== 'EndDate') throw ctx.invalid(`${path}.DateField`, 'must be StartDate or EndDate');
    if (!isAbsent(d['OffsetUnit']) && String(d['OffsetUnit']).toLowerCase() !== 'day') {
      throw ctx.unsupported(`${path}.OffsetUnit`, 'only day offsets are supported');
    }
    const offset = isAbsent(d['Offset']) ? null : readDays(ctx, d['Offset'], `${path}.Offset`);
    const unitValue = isAbsent(d['OffsetUnitValue']) ? null : readDays(ctx, d['OffsetUnitValue'], `${path}.OffsetUnitValue`);
    if (offset !== null && unitValue !== null && offset !== unitValue) {
      throw ctx.invalid(`${path}.OffsetUnitValue`, 'disagrees with Offset');
    }
    return { kind: 'dateOffset', dateField: df === 'StartDate' ? 'start' : 'end', offsetDays: offset ?? unitValue ?? 0 };
  }
  const path = 'EndStrategy.CustomEra';
  const c = expectObject(ctx, o['CustomEra'], path);
  rejectUnknownKeys(ctx, c, path, ['DrugCodesetId', 'GapDays', 'Offset', 'DaysSupplyOverride']);
  const drugCodesetId = readInteger(ctx, c['DrugCodesetId'], `${path}.DrugCodesetId`, { min: 0, max: 1_000_000 });
  if (!codesets.has(drugCodesetId)) {
    throw ctx.invalid(`${path}.DrugCodesetId`, `refers to concept set ${drugCodesetId}, which is not defined`);
  }
  return {
    kind: 'customEra',
    drugCodesetId,
    gapDays: isAbsent(c['GapDays']) ? 0 : readDays(ctx, c['GapDays'], `${path}.GapDays`, 0),
    offsetDays: isAbsent(c['Offset']) ? 0 : readDays(ctx, c['Offset'], `${path}.Offset`),
    daysSupplyOverride: isAbsent(c['DaysSupplyOverride'])
      ? null
      : readDays(ctx, c['DaysSupplyOverride'], `${path}.DaysSupplyOverride`, 0),
  };
}

function parseCollapse(ctx: ParseContext, v: unknown): number {
  if (isAbsent(v)) return 0;
  const o = expectObject(ctx, v, 'CollapseSettings');
  rejectUnknownKeys(ctx, o, 'CollapseSettings', ['CollapseType', 'EraPad']);
  if (!isAbsent(o['CollapseType']) && o['CollapseType'] !== 'ERA') {
    throw ctx.unsupported('CollapseSettings.CollapseType', `value ${quote(o['CollapseType'])}`);
  }
  return isAbsent(o['EraPad']) ? 0 : readDays(ctx, o['EraPad'], 'CollapseSettings.EraPad', 0);
}

function parseCensorWindow(ctx: ParseContext, v: unknown): CohortIR['censorWindow'] {
  if (isAbsent(v)) return {};
  const o = expectObject(ctx, v, 'CensorWindow');
  rejectUnknownKeys(ctx, o, 'CensorWindow', ['StartDate', 'EndDate']);
  const w: { start?: CohortIR['censorWindow']['start']; end?: CohortIR['censorWindow']['end'] } = {};
  // ATLAS writes an unset date as null or as an empty string.
  if (!isAbsent(o['StartDate']) && o['StartDate'] !== '') w.start = readDate(ctx, o['StartDate'], 'CensorWindow.StartDate');
  if (!isAbsent(o['EndDate']) && o['EndDate'] !== '') w.end = readDate(ctx, o['EndDate'], 'CensorWindow.EndDate');
  return w;
}
