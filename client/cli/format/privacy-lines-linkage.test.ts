import { describe, expect, it } from 'vitest';
import { describeGuarantee } from '../../../common/job/index.js';
import { privacyLines } from './privacy-lines.js';

describe('privacy lines of a linkage-bounded result', () => {
  const base = { mode: 'central-dp' as const, maxRowsPerPerson: 2, mechanism: 'discrete-gaussian (count)', spent: { epsilon: 1, delta: 1e-6, rho: 0.02 } };

  it('say k is across all sites via the linkage key, and print the cross-site cost', () => {
    const lines = privacyLines({ mode: 'central-dp', spent: base.spent, guarantee: describeGuarantee({ ...base, linkageSites: 3 }) });
    expect(lines).toContain('  bound: k = 2 row(s) per person across all sites, via the linkage key; maxSitesPerPerson = 1');
    expect(lines.find((l) => l.startsWith('  across sites: '))).toMatch(/unit: person across sites, bound k via linkage key.*1\/3 at one site/);
  });

  it('are unchanged without linkage (per site, the assumption, no cross-site line)', () => {
    const lines = privacyLines({ mode: 'central-dp', spent: base.spent, guarantee: describeGuarantee({ ...base, maxSitesPerPerson: 2 }) });
    expect(lines).toContain('  bound: k = 2 row(s) per person per site; maxSitesPerPerson = 2');
    expect(lines.some((l) => l.startsWith('  across sites: '))).toBe(false);
  });
});
