/**
 * The Circe front-end: what it reads into the IR, what it refuses (by name), and that no string from the input
 * reaches the SQL.
 */
import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { compileCohort, parseCirce } from './index.js';
import { circe, conceptSet, correlated, rule, window } from './test-circe.js';

const base = () => circe([conceptSet(0, [192671])], [{ ConditionOccurrence: { CodesetId: 0 } }]);

function refusal(def: unknown): FedmeshError {
  try {
    parseCirce(def);
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('INVALID_JOB');
    return e as FedmeshError;
  }
  throw new Error('expected parseCirce to refuse the definition');
}

describe('parseCirce', () => {
  it('reads the parts of an ATLAS export into the IR', () => {
    const ir = parseCirce({
      ...base(),
      ConceptSets: [conceptSet(0, [[192671, { descendants: true }], [4, { excluded: true, mapped: true }]]), conceptSet(3, [1118084])],
      PrimaryCriteria: {
        CriteriaList: [{ ConditionOccurrence: { CodesetId: 0, First: true, Age: { Op: 'gte', Value: 18.9 } } }],
        ObservationWindow: { PriorDays: 365, PostDays: 30 },
        PrimaryCriteriaLimit: { Type: 'Last' },
      },
      InclusionRules: [rule('r0', { CriteriaList: [correlated({ DrugEra: { CodesetId: 3 } }, { type: 1, count: 2 }, window(-10, null))] })],
      EndStrategy: { CustomEra: { DrugCodesetId: 3, GapDays: 30, Offset: 7 } },
      CollapseSettings: { CollapseType: 'ERA', EraPad: 2 },
      CensorWindow: { StartDate: '2001-02-03', EndDate: null },
      cdmVersionRange: '>=5.0.0',
    });
    expect(ir.conceptSets[0]?.items).toEqual([
      { conceptId: 192671, includeDescendants: true, isExcluded: false, includeMapped: false },
      { conceptId: 4, includeDescendants: false, isExcluded: true, includeMapped: true },
    ]);
    expect(ir.primary).toMatchObject({ priorDays: 365, postDays: 30, limit: 'Last' });
    // Circe truncates integer ranges (age) like Java's intValue().
    expect(ir.primary.criteria[0]).toMatchObject({ domain: 'ConditionOccurrence', first: true, age: { op: 'gte', value: 18 } });
    expect(ir.qualifiedLimit).toBe('All');
    expect(ir.inclusionRules[0]?.group.criteria[0]).toMatchObject({
      occurrence: { type: 'atMost', count: 2, distinct: false },
      startWindow: { start: { days: 10, coeff: -1 }, end: { days: null, coeff: 1 }, useIndexEnd: false, useEventEnd: false },
    });
    expect(ir.endStrategy).toEqual({ kind: 'customEra', drugCodesetId: 3, gapDays: 30, offsetDays: 7, daysSupplyOverride: null });
    expect(ir.eraPadDays).toBe(2);
    expect(ir.censorWindow).toEqual({ start: { year: 2001, month: 2, day: 3 } });
  });

  it('reads all nine domains', () => {
    const domains = ['ConditionOccurrence', 'DrugExposure', 'DrugEra', 'ConditionEra', 'ProcedureOccurrence', 'Measurement', 'Observation', 'VisitOccurrence', 'Death'];
    const ir = parseCirce({ ...base(), PrimaryCriteria: { CriteriaList: domains.map((d) => ({ [d]: { CodesetId: 0 } })) } });
    expect(ir.primary.criteria.map((c) => c.domain)).toEqual(domains);
  });

  const refused: [string, (d: Record<string, unknown>) => unknown, string][] = [
    [
      'an unsupported domain',
      (d) => ({ ...d, PrimaryCriteria: { CriteriaList: [{ DeviceExposure: { CodesetId: 0 } }] } }),
      'Circe construct not supported: PrimaryCriteria.CriteriaList[0].DeviceExposure',
    ],
    [
      'an unknown domain',
      (d) => ({ ...d, PrimaryCriteria: { CriteriaList: [{ Teleportation: { CodesetId: 0 } }] } }),
      'Circe construct not supported: PrimaryCriteria.CriteriaList[0].Teleportation',
    ],
    [
      'a criterion attribute',
      (d) => ({ ...d, PrimaryCriteria: { CriteriaList: [{ ConditionOccurrence: { CodesetId: 0, ConditionType: [{ CONCEPT_ID: 1 }] } }] } }),
      'Circe construct not supported: PrimaryCriteria.CriteriaList[0].ConditionOccurrence.ConditionType',
    ],
    [
      'a date adjustment',
      (d) => ({ ...d, PrimaryCriteria: { CriteriaList: [{ DrugExposure: { CodesetId: 0, DateAdjustment: { StartOffset: 1 } } }] } }),
      'Circe construct not supported: PrimaryCriteria.CriteriaList[0].DrugExposure.DateAdjustment',
    ],
    [
      'an unsupported criterion deep in an inclusion rule',
      (d) => ({ ...d, InclusionRules: [rule('r', { Groups: [{ Type: 'ANY', CriteriaList: [correlated({ Specimen: {} }, { type: 2, count: 1 }, window(null, null))] }] })] }),
      'Circe construct not supported: InclusionRules[0].expression.Groups[0].CriteriaList[0].Criteria.Specimen',
    ],
    [
      'a demographic criterion on location',
      (d) => ({ ...d, InclusionRules: [rule('r', { DemographicCriteriaList: [{ Region: [{ CONCEPT_ID: 1 }] }] })] }),
      'Circe construct not supported: InclusionRules[0].expression.DemographicCriteriaList[0].Region',
    ],
    [
      'a collapse type other than ERA',
      (d) => ({ ...d, CollapseSettings: { CollapseType: 'NONE', EraPad: 0 } }),
      'Circe construct not supported: CollapseSettings.CollapseType',
    ],
    [
      'a month offset',
      (d) => ({ ...d, EndStrategy: { DateOffset: { DateField: 'StartDate', Offset: 1, OffsetUnit: 'month' } } }),
      'Circe construct not supported: EndStrategy.DateOffset.OffsetUnit',
    ],
    ['an unknown top-level key', (d) => ({ ...d, Teleport: { Anywhere: true } }), 'Circe construct not supported: Teleport'],
    [
      'an unknown end strategy',
      (d) => ({ ...d, EndStrategy: { Hourglass: { Days: 3 } } }),
      'Circe construct not supported: EndStrategy.Hourglass',
    ],
    [
      'a count column it cannot count',
      (d) => ({ ...d, InclusionRules: [rule('r', { CriteriaList: [{ ...(correlated({ DrugEra: {} }, { type: 2, count: 1, distinct: true }, window(null, null)) as object), Occurrence: { Type: 2, Count: 1, IsDistinct: true, CountColumn: 'QUANTITY' } }] })] }),
      'Circe construct not supported: InclusionRules[0].expression.CriteriaList[0].Occurrence.CountColumn',
    ],
  ];
  for (const [name, mutate, message] of refused) {
    it(`refuses ${name}, naming it`, () => {
      const e = refusal(mutate(base()));
      expect(e.message.startsWith(message)).toBe(true);
    });
  }

  const invalid: [string, (d: Record<string, unknown>) => unknown, string][] = [
    ['a fractional concept id', (d) => ({ ...d, ConceptSets: [conceptSet(0, [1.5])] }), 'ConceptSets[0].expression.items[0].concept.CONCEPT_ID'],
    ['a concept id given as a string', (d) => ({ ...d, ConceptSets: [conceptSet(0, ['192671' as unknown as number])] }), 'ConceptSets[0].expression.items[0].concept.CONCEPT_ID'],
    [
      'a codeset that is not defined',
      (d) => ({ ...d, PrimaryCriteria: { CriteriaList: [{ ConditionOccurrence: { CodesetId: 9 } }] } }),
      'PrimaryCriteria.CriteriaList[0].ConditionOccurrence.CodesetId',
    ],
    ['an impossible date', (d) => ({ ...d, CensorWindow: { StartDate: '2021-02-30' } }), 'CensorWindow.StartDate'],
    ['a date with SQL in it', (d) => ({ ...d, CensorWindow: { StartDate: "2020-01-01' OR 1=1 --" } }), 'CensorWindow.StartDate'],
    ['an infinite value', (d) => ({ ...d, CollapseSettings: { CollapseType: 'ERA', EraPad: Infinity } }), 'CollapseSettings.EraPad'],
    ['a bad occurrence type', (d) => ({ ...d, InclusionRules: [rule('r', { CriteriaList: [correlated({ DrugEra: {} }, { type: 7 as 0, count: 1 }, window(0, 0))] })] }), 'InclusionRules[0].expression.CriteriaList[0].Occurrence.Type'],
    ['a window without Coeff', (d) => ({ ...d, InclusionRules: [rule('r', { CriteriaList: [correlated({ DrugEra: {} }, { type: 2, count: 1 }, { Start: { Days: 3 }, End: { Days: 0, Coeff: 1 } })] })] }), 'InclusionRules[0].expression.CriteriaList[0].StartWindow.Start.Coeff'],
    ['a missing PrimaryCriteria', (d) => ({ ...d, PrimaryCriteria: undefined }), 'PrimaryCriteria'],
    ['a bad limit', (d) => ({ ...d, ExpressionLimit: { Type: 'Some' } }), 'ExpressionLimit.Type'],
  ];
  for (const [name, mutate, field] of invalid) {
    it(`rejects ${name}, naming ${field}`, () => {
      const e = refusal(mutate(base()));
      expect(e.field).toBe(field);
      expect(e.message).toContain(field);
    });
  }

  it('accepts inert empty options that ATLAS writes (null, false, [])', () => {
    const ir = parseCirce({
      ...base(),
      PrimaryCriteria: {
        CriteriaList: [{ ConditionOccurrence: { CodesetId: 0, ConditionType: [], ConditionTypeExclude: false, StopReason: null } }],
        ObservationWindow: { PriorDays: 0, PostDays: 0 },
        PrimaryCriteriaLimit: { Type: 'First' },
      },
    });
    expect(ir.primary.criteria).toHaveLength(1);
  });

  it('never copies a string from the definition into SQL', () => {
    const evil = "x'); DROP TABLE person; --";
    const def = {
      ...base(),
      Title: evil,
      ConceptSets: [{ ...(conceptSet(0, [192671]) as object), name: evil }],
      InclusionRules: [rule(evil, { DemographicCriteriaList: [{ Age: { Op: 'gt', Value: 40 } }] })],
    };
    const ir = parseCirce(def);
    const compiled = compileCohort(ir);
    const sql = [...compiled.statements.map((s) => s.sql), compiled.attritionSql ?? ''].join('\n');
    expect(sql).not.toContain('DROP TABLE person');
    // The only quoted strings are the compiler's own.
    const quoted = new Set(sql.match(/'[^']*'/g) ?? []);
    expect([...quoted].every((q) => q === "'Maps to'")).toBe(true);
  });

  it('refuses a target table name that is not a plain identifier', () => {
    expect(() => compileCohort(parseCirce(base()), { targetTable: 'x; DROP TABLE person' })).toThrow(RangeError);
  });
});
