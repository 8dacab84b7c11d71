import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nestedCirce } from '../../test/helpers/nested-cohort.js';
import { FedmeshError } from '../errors.js';
import { parseJobSpec } from '../job/validate.js';
import { COHORT_LIMITS, parseCohortDefinition } from './index.js';

function refusal(fn: () => unknown): FedmeshError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error('expected a refusal');
}

const CIRCE_DIR = '/work/shared/data/cohorts/circe';

describe('cohort definition limits (issue 8 #6a)', () => {
  it('the nine real ATLAS definitions pass', () => {
    const files = readdirSync(CIRCE_DIR).filter((f) => f.endsWith('.json'));
    expect(files.length).toBe(9);
    for (const f of files) expect(() => parseCohortDefinition(JSON.parse(readFileSync(join(CIRCE_DIR, f), 'utf8')))).not.toThrow();
  });

  it(`groups nested ${COHORT_LIMITS.maxGroupDepth} deep pass; one more is refused naming the JSON path`, () => {
    expect(() => parseCohortDefinition(nestedCirce(COHORT_LIMITS.maxGroupDepth))).not.toThrow();
    const err = refusal(() => parseCohortDefinition(nestedCirce(COHORT_LIMITS.maxGroupDepth + 1)));
    expect(err.code).toBe('INVALID_JOB');
    expect(err.field).toBe(`definition.InclusionRules[0].expression${'.Groups[0]'.repeat(COHORT_LIMITS.maxGroupDepth - 1)}.Groups`);
    expect(err.message).toMatch(/nested deeper than 8/);
  });

  it('depth 2,000 is INVALID_JOB naming the path, not a stack overflow (was INTERNAL)', () => {
    const spec = JSON.stringify({ kind: 'cohort', definition: nestedCirce(2000), privacy: { mode: 'none' } });
    const err = refusal(() => parseJobSpec(spec));
    expect(err.code).toBe('INVALID_JOB');
    expect(err.field).toMatch(/^definition\.InclusionRules\[0\]\.expression(\.Groups\[0\])+\.Groups$/);
    expect(err.field!.length).toBeLessThan(400);
  });

  it('a 3,000-criterion group is refused naming its CriteriaList', () => {
    const err = refusal(() => parseCohortDefinition(nestedCirce(1, 3000)));
    expect(err.field).toBe('definition.InclusionRules[0].expression.CriteriaList');
    expect(err.message).toMatch(/more than 200 criteria/);
  });

  it('any JSON nested past the spec limit is refused before a recursive parser sees it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const err = refusal(() => parseJobSpec({ kind: 'aggregate', product: 'p', measures: [{ fn: 'count' }], where: deep }));
    expect(err.message).toMatch(/nested deeper than 64/);
    const wide = refusal(() => parseJobSpec({ kind: 'aggregate', product: 'p', measures: Array.from({ length: 300_000 }, () => 0) }));
    expect(wide.message).toMatch(/more than 200000 JSON values/);
  });
});
