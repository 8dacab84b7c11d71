import { describe, expect, it } from 'vitest';
import type { OidcVerifier } from '../coordinator/identity/index.js';
import { authenticateRequest, type RequestIdentity } from './auth.js';

const socket = (authorized: boolean, CN?: string, OU?: string): RequestIdentity['socket'] => ({ authorized, getPeerCertificate: () => ({ subject: { CN, OU } }) as never });
const req = (s: RequestIdentity['socket'], authorization?: string): RequestIdentity => ({ authorization, socket: s });
const oidc: OidcVerifier = { verify: async (t: string) => ({ name: `oidc:${t}`, isAdmin: false, authenticatedBy: 'oidc' }) } as unknown as OidcVerifier;

describe('authenticateRequest: the gRPC API rules, for browsers', () => {
  it('takes name and role from a client certificate that chains to the mesh CA', async () => {
    expect(await authenticateRequest(req(socket(true, 'alice', 'researcher')), { insecure: false })).toMatchObject({ name: 'alice', isAdmin: false, authenticatedBy: 'certificate' });
    expect(await authenticateRequest(req(socket(true, 'root', 'admin')), { insecure: false })).toMatchObject({ name: 'root', isAdmin: true });
  });

  it.each([
    ['a certificate that did not verify against the CA', socket(false, 'alice', 'researcher')],
    ['an agent certificate', socket(true, 'site-1', 'agent')],
    ['a certificate without a name', socket(true, undefined, 'researcher')],
    ['no certificate', undefined],
  ])('refuses %s', async (_what, s) => {
    await expect(authenticateRequest(req(s), { insecure: false })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('lets a bearer token decide when the coordinator accepts them, and refuses one otherwise', async () => {
    expect(await authenticateRequest(req(socket(true, 'alice', 'researcher'), 'Bearer tok'), { insecure: false, oidc })).toMatchObject({ name: 'oidc:tok', authenticatedBy: 'oidc' });
    await expect(authenticateRequest(req(undefined, 'Bearer tok'), { insecure: false })).rejects.toThrow(/does not accept bearer tokens/);
    await expect(authenticateRequest(req(undefined, 'Basic abc'), { insecure: false, oidc })).rejects.toThrow(/must be "Bearer <token>"/);
  });
});
