import { describe, expect, it } from 'vitest';
import type { AggregateJob } from '../../common/job/index.js';
import { parseJobSpec } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import { admitLinkage } from './admit-linkage.js';
import { linkageGuarantee } from '../../common/job/index.js';

function agent(name: string, linkageKey?: string): AgentView {
  return {
    name, domain: name, connected: true, connectedSinceMs: 0, lastHeartbeatMs: 0, version: 'test',
    policy: { minCellSize: 5, allowModes: ['central-dp'], allowKinds: ['aggregate'], secureMaxRows: 1000 } as AgentView['policy'],
    products: [{ name: 'visits', columns: [], privacyUnit: 'person_id', description: '', metadata: linkageKey ? { linkageKey } : {} }],
  };
}
const spec = (privacy: Record<string, unknown>): AggregateJob => parseJobSpec({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, ...privacy } }) as AggregateJob;

describe('admission of linkage-bounded jobs (public catalogue only)', () => {
  it('fixes the partition: the asked agents sorted, a fresh 128-bit salt; drops the sites-per-person assumption', () => {
    const s = spec({ linkage: {} });
    s.privacy.maxSitesPerPerson = 3; // as the mesh-wide floor would have set it
    admitLinkage(s, [agent('b', 'k'), agent('a', 'link_key'), agent('c', 'k')]);
    expect(s.privacy.linkage!.sites).toEqual(['a', 'b', 'c']);
    expect(s.privacy.linkage!.salt).toMatch(/^[0-9a-f]{32}$/);
    expect(s.privacy.maxSitesPerPerson).toBeUndefined();
    expect(linkageGuarantee(s)).toEqual({ linkageSites: 3 });
    // The filled-in spec is what agents parse: it must pass their validation.
    expect(() => parseJobSpec(JSON.stringify(s))).not.toThrow();
    const t = spec({ linkage: {} });
    admitLinkage(t, [agent('a', 'k')]);
    expect(t.privacy.linkage!.salt).not.toBe(s.privacy.linkage!.salt);
  });

  it('refuses (INVALID_JOB → INVALID_ARGUMENT) naming the sites without a linkage key, and when none has one', () => {
    const s = spec({ linkage: {} });
    expect(() => admitLinkage(s, [agent('a', 'k'), agent('c'), agent('b')])).toThrow(/privacy\.linkage: product visits has no linkageKey at 2 of the 3 sites the job would ask: b, c;/);
    try {
      admitLinkage(s, [agent('a'), agent('b')]);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'INVALID_JOB', field: 'privacy.linkage', message: expect.stringMatching(/no site declares a linkageKey for product visits/) });
    }
    expect(s.privacy.linkage).toEqual({});
  });

  it('leaves jobs without linkage alone', () => {
    const s = spec({ maxSitesPerPerson: 2 });
    admitLinkage(s, [agent('a')]);
    expect(s.privacy).not.toHaveProperty('linkage');
    expect(s.privacy.maxSitesPerPerson).toBe(2);
    expect(linkageGuarantee(s)).toEqual({});
  });
});
