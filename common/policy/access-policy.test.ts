import { describe, expect, it } from 'vitest';
import { AccessPolicyError, cedarDecimal, compileAccessPolicy, type AccessRequest } from './index.js';

const POLICY = `// Research at hospital A: researchers of org-x, health research on oncology products, epsilon at most 1.
@id("research-org-x")
permit (principal, action, resource is Fedmesh::DataProduct)
when {
  principal.organisation == "org-x" &&
  principal.roles.contains("researcher") &&
  context.purpose == "HRESCH" &&
  resource.tags.contains("oncology") &&
  context.epsilon.lessThanOrEqual(decimal("1.0"))
};

@id("no-exact-counts")
forbid (principal, action, resource)
when { context.privacyMode == "none" };
`;

const request = (over: { purpose?: string; epsilon?: number; mode?: string; org?: string; tags?: string[] } = {}): AccessRequest => ({
  principal: { name: 'alice', authenticatedBy: 'oidc', attributes: { organisation: over.org ?? 'org-x', roles: ['researcher'], purposes: ['HRESCH'], projects: [] } },
  job: { kind: 'aggregate', privacy: { mode: (over.mode ?? 'central-dp') as 'central-dp', epsilon: over.epsilon ?? 0.5 }, ...(over.purpose ? { purpose: over.purpose } : {}) },
  product: { name: 'person', domain: 'hospital-a', tags: over.tags ?? ['oncology'], sensitivity: 'sensitive' },
  minCellSize: 10,
  agent: 'a1',
});

describe('Cedar access policies', () => {
  it('permits what a permit matches and names the determining policy', async () => {
    const p = await compileAccessPolicy(POLICY, 'site.cedar');
    expect(p.decide(request())).toEqual({ allow: true, policyIds: ['research-org-x'] });
    expect(p.lines).toEqual({ 'research-org-x': 2, 'no-exact-counts': 12 });
  });

  it('forbid beats permit, and the refusal names the forbid policy with file and line', async () => {
    const p = await compileAccessPolicy(POLICY, 'site.cedar');
    expect(p.decide(request({ mode: 'none' }))).toEqual({ allow: false, policyIds: ['no-exact-counts'], reason: 'forbidden by policy no-exact-counts (site.cedar:12)' });
  });

  it('no matching permit is a deny (other purpose, organisation, tag, or ε above 1)', async () => {
    const p = await compileAccessPolicy(POLICY, 'site.cedar');
    for (const r of [request({ purpose: 'TREAT' }), request({ org: 'org-y' }), request({ tags: ['cardiology'] }), request({ epsilon: 1.00001 })]) {
      expect(p.decide(r)).toMatchObject({ allow: false, policyIds: [], reason: expect.stringMatching(/no permit policy in site.cedar matches/) });
    }
    // Negative control: ε exactly 1 and the default purpose (HRESCH) are permitted.
    expect(p.decide(request({ epsilon: 1 })).allow).toBe(true);
  });

  it('ε is rounded up to Cedar decimals, never down', () => {
    expect(cedarDecimal(1.00001).__extn.arg).toBe('1.0001');
    expect(cedarDecimal(1).__extn.arg).toBe('1.0000');
    expect(cedarDecimal(0.00001).__extn.arg).toBe('0.0001');
    expect(cedarDecimal(undefined).__extn.arg).toBe('0.0000');
  });

  it('a syntax error names the file and line', async () => {
    const bad = 'permit (principal, action, resource)\nwhen {\n  context.purpose ==\n};\n';
    await expect(compileAccessPolicy(bad, 'bad.cedar')).rejects.toThrow(/^bad\.cedar:4: /);
  });

  it('an attribute the schema does not know names the file, line and policy', async () => {
    const bad = '@id("ok")\npermit (principal, action, resource);\n\n@id("typo")\nforbid (principal, action, resource)\nwhen { context.purpse == "TREAT" };\n';
    const e = await compileAccessPolicy(bad, 'typo.cedar').catch((x: unknown) => x as AccessPolicyError);
    expect(e).toBeInstanceOf(AccessPolicyError);
    expect((e as AccessPolicyError).message).toMatch(/^typo\.cedar:6: policy typo: .*purpse/);
    expect((e as AccessPolicyError).line).toBe(6);
  });

  it('refuses duplicate ids, templates and an empty file', async () => {
    await expect(compileAccessPolicy('@id("x")\npermit (principal, action, resource);\n@id("x")\nforbid (principal, action, resource);\n', 'dup.cedar')).rejects.toThrow(/dup\.cedar:3: policy id "x" is used twice/);
    await expect(compileAccessPolicy('// nothing\n', 'empty.cedar')).rejects.toThrow(/holds no policy/);
  });
});
