import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeGuarantee } from './guarantee.js';
import { linkageBucket, MAX_LINKAGE_SITES, parseLinkage } from './linkage.js';
import { parseJobSpec } from './validate.js';
import { parseGlmSpec } from '../../jobs/glm/spec.js';

const count = (privacy: Record<string, unknown>, kind = 'aggregate'): unknown =>
  parseJobSpec(kind === 'aggregate' ? { kind, product: 'p', measures: [{ fn: 'count' }], privacy } : { kind: 'contingency', product: 'p', rowColumn: 'a', colColumn: 'b', rowLevels: ['x', 'y'], colLevels: ['u', 'v'], privacy });

describe('linkage buckets', () => {
  it('the buckets of sites 0..n−1 tile all 2^32 hash prefixes, contiguously and without overlap (any n)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_LINKAGE_SITES }), (n) => {
        let next = '00000000';
        for (let i = 0; i < n; i++) {
          const { lo, hi } = linkageBucket(i, n);
          expect(lo).toBe(next);
          expect(lo).toMatch(/^[0-9a-f]{8}$/);
          if (i === n - 1) expect(hi).toBeUndefined();
          else {
            expect(hi! > lo).toBe(true);
            next = hi!;
          }
        }
      }),
      { seed: 15, numRuns: 40 },
    );
  });

  it('buckets are (nearly) equal: each within one prefix of 2^32/n', () => {
    for (const n of [1, 2, 3, 7, 1000]) {
      for (let i = 0; i < n - 1; i++) {
        const { lo, hi } = linkageBucket(i, n);
        expect(Math.abs(parseInt(hi!, 16) - parseInt(lo, 16) - 2 ** 32 / n)).toBeLessThanOrEqual(1);
      }
    }
    expect(() => linkageBucket(3, 3)).toThrow(RangeError);
    expect(() => linkageBucket(0, 0)).toThrow(RangeError);
  });
});

describe('privacy.linkage in job specs', () => {
  it('a researcher writes {} or true; the filled-in form needs sorted, distinct sites and a hex salt', () => {
    expect(parseLinkage({})).toEqual({});
    expect(parseLinkage(true)).toEqual({});
    expect(parseLinkage({ sites: ['a1', 'a2'], salt: '0123456789abcdef' })).toEqual({ sites: ['a1', 'a2'], salt: '0123456789abcdef' });
    expect(() => parseLinkage({ sites: ['a2', 'a1'], salt: '0123456789abcdef' })).toThrow(/privacy\.linkage\.sites\[1\]: sites must be sorted and distinct/);
    expect(() => parseLinkage({ sites: ['a1', 'a1'], salt: '0123456789abcdef' })).toThrow(/sorted and distinct/);
    expect(() => parseLinkage({ sites: [], salt: '0123456789abcdef' })).toThrow(/privacy\.linkage\.sites: must be a list/);
    expect(() => parseLinkage({ sites: ['a1'], salt: 'short' })).toThrow(/privacy\.linkage\.salt/);
    expect(() => parseLinkage({ sites: ['a1'] })).toThrow(/privacy\.linkage\.salt/);
    expect(() => parseLinkage({ key: 'x' })).toThrow(/privacy\.linkage\.key: unknown field/);
    expect(() => parseLinkage('yes')).toThrow(/privacy\.linkage: must be \{\}/);
  });

  it('applies to the DP modes of every kind, and never with a sites-per-person assumption above 1', () => {
    expect(count({ mode: 'central-dp', epsilon: 1, linkage: {} })).toMatchObject({ privacy: { linkage: {} } });
    expect(count({ mode: 'central-dp', epsilon: 1, maxSitesPerPerson: 1, linkage: {} })).toBeTruthy();
    expect(() => count({ mode: 'none', linkage: {} })).toThrow(/privacy\.linkage: applies to the DP modes only/);
    expect(() => count({ mode: 'central-dp', epsilon: 1, maxSitesPerPerson: 2, linkage: {} })).toThrow(/privacy\.maxSitesPerPerson: must be 1/);
    expect(count({ mode: 'central-dp', epsilon: 1, linkage: {} }, 'contingency')).toMatchObject({ privacy: { linkage: {} } });
    expect(() => count({ mode: 'none', linkage: {} }, 'contingency')).toThrow(/privacy\.linkage: applies to the DP modes only/);
    const glm = (privacy: Record<string, unknown>): unknown => parseGlmSpec({ kind: 'glm', product: 'p', family: 'binomial', outcome: 'y', covariates: [{ column: 'x', type: 'numeric', bounds: [0, 1] }], privacy });
    expect(glm({ mode: 'central-dp', epsilon: 1, linkage: {} })).toMatchObject({ privacy: { linkage: {} } });
    expect(() => glm({ mode: 'none', linkage: {} })).toThrow(/privacy\.linkage: applies to the DP modes only/);
  });

  it('the guarantee states the unit across sites and the cost; without linkage it is unchanged (no crossSite field)', () => {
    const base = { mode: 'central-dp' as const, maxRowsPerPerson: 2, mechanism: 'm', spent: { epsilon: 1, delta: 1e-6, rho: 0.1 } };
    const g = describeGuarantee({ ...base, maxSitesPerPerson: 3, linkageSites: 4 });
    expect(g.unit).toMatch(/^a person across sites: at most k rows in total across the mesh, bound via the linkage key/);
    expect(g.maxSitesPerPerson).toBe(1);
    expect(g.crossSite).toMatch(/unit: person across sites, bound k via linkage key.*probability s\/4 \(1\/4 at one site\)/);
    expect(g.crossSite).toMatch(/NULL/);
    const plain = describeGuarantee({ ...base, maxSitesPerPerson: 3 });
    expect(plain).not.toHaveProperty('crossSite');
    expect(plain.maxSitesPerPerson).toBe(3);
  });
});
