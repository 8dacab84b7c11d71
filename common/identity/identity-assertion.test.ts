import { describe, expect, it } from 'vitest';
import { createIdentityKeyPair } from '../crypto/index.js';
import { signIdentityAssertion, specSha256Hex, verifyIdentityAssertion, type IdentityAssertionClaims } from './identity-assertion.js';

const key = createIdentityKeyPair();
const now = 1_700_000_000_000;
const specJson = '{"kind":"aggregate"}';
const claims: IdentityAssertionClaims = {
  v: 1, researcher: 'alice', authenticatedBy: 'oidc', attributes: { organisation: 'org-x', roles: ['researcher'], purposes: ['HRESCH'], projects: ['P1'] },
  purpose: 'HRESCH', project: 'P1', jobId: 'job-1', round: 0, specSha256: specSha256Hex(specJson), agent: 'a1', issuedAtMs: now, expiresAtMs: now + 30_000,
};
const expectation = { jobId: 'job-1', round: 0, specJson, agent: 'a1', researcher: 'alice', nowMs: now + 1000 };

describe('identity assertions (coordinator → agent)', () => {
  const token = signIdentityAssertion(claims, key.privateKey);

  it('verifies for the task it was made for and returns the claims', () => {
    expect(verifyIdentityAssertion(token, key.publicKey, expectation)).toEqual(claims);
  });

  it('refuses a missing, malformed or oversized assertion as UNAUTHENTICATED', () => {
    expect(() => verifyIdentityAssertion(undefined, key.publicKey, expectation)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/carries no identity assertion/) }));
    expect(() => verifyIdentityAssertion('abc', key.publicKey, expectation)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(() => verifyIdentityAssertion('a'.repeat(40_000), key.publicKey, expectation)).toThrow(/longer than/);
  });

  it('refuses a tampered assertion and one signed by another key', () => {
    const [body, sig] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...claims, attributes: { ...claims.attributes, organisation: 'org-y' } })).toString('base64url');
    expect(() => verifyIdentityAssertion(`${forged}.${sig}`, key.publicKey, expectation)).toThrow(/bad signature/);
    expect(() => verifyIdentityAssertion(`${body}.${sig}`, createIdentityKeyPair().publicKey, expectation)).toThrow(/bad signature/);
  });

  it('refuses an expired assertion (beyond the clock skew) as UNAUTHENTICATED', () => {
    expect(() => verifyIdentityAssertion(token, key.publicKey, { ...expectation, nowMs: now + 30_000 + 61_000 })).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/expired/) }));
    // Negative control: within the skew it still verifies.
    expect(verifyIdentityAssertion(token, key.publicKey, { ...expectation, nowMs: now + 30_000 + 59_000 }).jobId).toBe('job-1');
  });

  it.each([
    ['jobId', { jobId: 'job-2' }, /another job$/],
    ['round', { round: 1 }, /another round/],
    ['agent', { agent: 'a2' }, /another agent/],
    ['spec', { specJson: '{"kind":"cohort"}' }, /another job spec/],
    ['researcher', { researcher: 'bob' }, /another researcher/],
  ])('refuses an assertion replayed for another %s as POLICY_DENIED', (_what, change, why) => {
    expect(() => verifyIdentityAssertion(token, key.publicKey, { ...expectation, ...change })).toThrow(expect.objectContaining({ code: 'POLICY_DENIED', message: expect.stringMatching(why) }));
  });
});
