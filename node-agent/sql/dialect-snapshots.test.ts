/**
 * Snapshots of the SQL each dialect generates for one cohort that exercises every dialect-dependent construct
 * (date offsets, ages from years, value ranges as DOUBLE, a censor window date, drug-era end strategy with
 * days_supply, inclusion-rule attrition over an integer series, temp tables). A change to a dialect shows up as a
 * reviewed diff of these files; the meaning of the text is checked on real engines in dialect-semantics.test.ts
 * and the PostgreSQL conformance tests.
 */
import { describe, expect, it } from 'vitest';
import { compileCohort, parseCirce } from '../cohort/index.js';
import { circe, conceptSet, correlated, rule, window } from '../cohort/test-circe.js';
import { duckdbDialect, postgresDialect, sqlServerDialect, type SqlDialect } from './index.js';

const condition = { ConditionOccurrence: { CodesetId: 0, First: true } };
const hba1c = { Measurement: { CodesetId: 2, ValueAsNumber: { Value: 6.5, Op: 'gte' } } };
const COHORT = parseCirce(
  circe(
    [conceptSet(0, [[201826, { descendants: true }]]), conceptSet(1, [1503297]), conceptSet(2, [3004410])],
    [condition],
    {
      InclusionRules: [
        rule('age 40+', { DemographicCriteriaList: [{ Age: { Value: 40, Op: 'gte' } }] }),
        rule('HbA1c', { CriteriaList: [correlated(hba1c, { type: 2, count: 1 }, window(-365, 0))] }),
      ],
      EndStrategy: { CustomEra: { DrugCodesetId: 1, GapDays: 30, Offset: 7 } },
      CensorWindow: { StartDate: '2010-01-01', EndDate: '2019-12-31' },
    },
    { prior: 365, post: 0, limit: 'First' },
  ),
);

function render(d: SqlDialect): string {
  const c = compileCohort(COHORT, { targetTable: 'snap', dialect: d });
  return [
    `-- dialect: ${d.name}`,
    ...c.statements.map((s) => s.sql),
    c.qualifiedSql,
    c.attritionSql ?? '',
    ...c.cleanupStatements,
  ].join(';\n\n') + ';\n';
}

describe('generated cohort SQL per dialect', () => {
  for (const d of [duckdbDialect, postgresDialect, sqlServerDialect]) {
    it(`${d.name}`, async () => {
      await expect(render(d)).toMatchFileSnapshot(`__snapshots__/cohort.${d.name}.sql`);
    });
  }

  it('the dialects differ only where they must (negative control: a snapshot cannot pass for the wrong engine)', () => {
    const duck = render(duckdbDialect);
    const pg = render(postgresDialect);
    expect(pg).not.toBe(duck);
    expect(duck).toContain('range(2)');
    expect(pg).not.toContain('range(2)');
    expect(pg).toContain('generate_series(0, 1)');
    expect(pg).toContain('DOUBLE PRECISION');
    expect(pg).not.toMatch(/\byear\(/);
    expect(pg).toContain('ANALYZE pg_temp."snap__qualified"');
  });
});

describe('dialect shape checks', () => {
  it('refuses a series length or bin count that is not a non-negative integer', () => {
    for (const d of [duckdbDialect, postgresDialect, sqlServerDialect]) {
      expect(() => d.integerSeries(-1, 's', 'k')).toThrow(RangeError);
      expect(() => d.integerSeries(1.5, 's', 'k')).toThrow(RangeError);
      expect(() => d.histogram('b', Number.NaN)).toThrow(RangeError);
    }
  });
});
