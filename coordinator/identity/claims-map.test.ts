import { describe, expect, it } from 'vitest';
import { compileClaimsMap, mapClaims, MAX_CLAIM_VALUES } from './claims-map.js';
import { createOidcVerifier } from './oidc-verifier.js';

describe('claims → researcher attributes', () => {
  const keycloak = compileClaimsMap({ name: 'preferred_username', roles: 'realm_access.roles', organisation: 'org', purposes: 'purposes', projects: 'project' });

  it('maps dot paths, lists and space-separated strings', () => {
    const p = mapClaims({ preferred_username: 'alice', org: 'org-x', realm_access: { roles: ['researcher', 'researcher'] }, purposes: 'HRESCH PUBHLTH', project: ['P1'] }, keycloak);
    expect(p).toEqual({ name: 'alice', isAdmin: false, attributes: { organisation: 'org-x', roles: ['researcher'], purposes: ['HRESCH', 'PUBHLTH'], projects: ['P1'] } });
    expect(mapClaims({ preferred_username: 'root', realm_access: { roles: ['fedmesh-admin'] } }, keycloak).isAdmin).toBe(true);
  });

  it('refuses a bad name, no researcher role, and unbounded attributes (UNAUTHENTICATED, naming the claim)', () => {
    expect(() => mapClaims({ preferred_username: 'al ice', realm_access: { roles: ['researcher'] } }, keycloak)).toThrow(/claim preferred_username must be a researcher name/);
    expect(() => mapClaims({ preferred_username: 'alice', realm_access: { roles: ['nurse'] } }, keycloak)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    const many = Array.from({ length: MAX_CLAIM_VALUES + 1 }, (_, i) => `p${i}`);
    expect(() => mapClaims({ preferred_username: 'alice', realm_access: { roles: ['researcher'] }, project: many }, keycloak)).toThrow(/claim project must be a string or a list of at most 64/);
  });

  it('refuses unknown keys and bad claim paths in the map, naming them', () => {
    expect(() => compileClaimsMap({ roles: 'a..b' })).toThrow(/claims map.roles must be a claim name or dot path/);
    expect(() => compileClaimsMap({ adminRole: '' })).toThrow(/adminRole must be a non-empty role name/);
  });

  it('an unreachable JWKS refuses the token with a reason, not an internal error', async () => {
    const v = createOidcVerifier({ issuer: 'https://i', audience: 'a', jwksUrl: 'https://127.0.0.1:1/jwks', jwksTimeoutMs: 2000 });
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 })}.${'A'.repeat(342)}`;
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: "bearer token refused: the issuer's keys (JWKS) could not be fetched; try again" });
  });
});
