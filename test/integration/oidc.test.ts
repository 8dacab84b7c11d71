import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { compileOidcOptions, createOidcVerifier } from '../../coordinator/identity/index.js';
import { sharedCerts, startMesh, type TestMesh } from '../helpers/mesh.js';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('OpenID Connect bearer tokens over the real gRPC transport', () => {
  let mesh: TestMesh;
  let idp: TestIssuer;
  let address: string;
  const lines: { event: string; fields: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    idp = await startTestIssuer(await sharedCerts(['a1']));
    const oidc = createOidcVerifier({ issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl, jwksCa: idp.ca, clockSkewSec: 5 });
    mesh = await startMesh({ agentNames: ['a1'], oidc, coordinatorLog: (event, fields = {}) => lines.push({ event, fields }) });
    address = `127.0.0.1:${mesh.server.port}`;
  });
  afterAll(async () => {
    await mesh?.close();
    await idp?.close();
  });

  const clientWith = (token: string): CoordinatorClient => new CoordinatorClient({ address, tls: undefined, bearer: { ca: idp.ca, token }, callTimeoutMs: 10_000 });
  const refusedWith = async (token: string, why: RegExp): Promise<void> => {
    const c = clientWith(token);
    try {
      await expect(c.listJobs()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(why) });
    } finally {
      c.close();
    }
  };

  it('accepts a valid token, fetched keys over HTTPS, and names the researcher from its claims', async () => {
    const c = clientWith(await idp.sign());
    expect(await c.listJobs()).toEqual([]);
    const budget = await c.getBudget();
    expect(budget.entries).toEqual([]);
    c.close();
    expect(idp.fetches()).toBeGreaterThanOrEqual(1);
  });

  it('a job submitted with a token belongs to the token\'s researcher', async () => {
    const c = clientWith(await idp.sign({ sub: 'oidc-bob' }));
    // No agent serves `person`: the job is refused, but only after authentication succeeded as oidc-bob.
    await expect(c.submitJob({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }] })).rejects.toMatchObject({ code: expect.not.stringMatching(/UNAUTHENTICATED/) });
    c.close();
    expect(lines.some((l) => l.event === 'job-rejected' && l.fields.researcher === 'oidc-bob')).toBe(true);
  });

  it('refuses an expired token', async () => refusedWith(await idp.sign({}, { expiresInSec: -120 }), /expired/));
  it('refuses a token that is not yet valid', async () => refusedWith(await idp.sign({}, { notBeforeSec: 600 }), /not yet valid/));
  it('refuses a token from another issuer', async () => refusedWith(await idp.sign({ iss: 'https://evil.example/realms/research' }), /wrong issuer/));
  it('refuses a token for another audience', async () => refusedWith(await idp.sign({ aud: 'another-service' }), /wrong audience/));

  it('refuses an unsigned token (alg: none)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = b64({ sub: 'oidc-alice', roles: ['researcher'], iss: idp.issuer, aud: idp.audience, iat: now, exp: now + 300 });
    await refusedWith(`${b64({ alg: 'none', typ: 'JWT' })}.${body}.`, /unsupported algorithm|malformed/);
  });

  it('refuses a token re-signed with HS256 using the public key as the secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const secret = new TextEncoder().encode(JSON.stringify(idp.publicJwk));
    const forged = await new SignJWT({ sub: 'oidc-mallory', roles: ['researcher', 'fedmesh-admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(secret);
    await refusedWith(forged, /unsupported algorithm/);
  });

  it('refuses a token whose payload was tampered with', async () => {
    const [h, p, s] = (await idp.sign()).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    await refusedWith(`${h}.${b64({ ...claims, roles: ['researcher', 'fedmesh-admin'] })}.${s}`, /bad signature/);
  });

  it("refuses a token signed by a key that is not in the issuer's JWKS", async () => {
    const key = await idp.otherKey();
    await refusedWith(await idp.sign({}, { key, kid: 'unknown-kid' }), /not in the issuer's JWKS/);
    // Same kid as the published key but another private key: the signature does not verify.
    await refusedWith(await idp.sign({}, { key }), /bad signature/);
  });

  it('refuses an oversized token before parsing it, and a token without the researcher role', async () => {
    await refusedWith(`${'a'.repeat(9000)}.b.c`, /longer than 8192 bytes/);
    await refusedWith(await idp.sign({ roles: ['nurse'] }), /neither the researcher role/);
  });

  it('never echoes a token in a refusal or a log line', async () => {
    const token = await idp.sign({}, { expiresInSec: -120 });
    const c = clientWith(token);
    const err = await c.listJobs().catch((e: unknown) => e as Error);
    c.close();
    expect(String((err as Error).message)).not.toContain(token.split('.')[1]!);
    expect(JSON.stringify(lines)).not.toContain(token.split('.')[1]!);
    expect(lines.some((l) => l.event === 'call-refused' && /expired/.test(String(l.fields.reason)))).toBe(true);
  });

  it('certificate researchers are unchanged, and a call with neither certificate nor token is refused', async () => {
    const cert = new CoordinatorClient({ address, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    expect(await cert.listJobs()).toEqual([]);
    cert.close();
    const grpc = await import('@grpc/grpc-js');
    const { fedmeshV1, clientChannelOptions } = await import('../../common/transport/index.js');
    const Ctor = fedmeshV1().Coordinator!;
    const bare = new Ctor(address, grpc.credentials.createSsl(idp.ca), clientChannelOptions(address, true)) as unknown as { listJobs: (r: unknown, cb: (e: { code: number; details: string } | null) => void) => void; close(): void };
    const e = await new Promise<{ code: number; details: string } | null>((resolve) => bare.listJobs({ limit: 1 }, resolve));
    bare.close();
    expect(e?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(e?.details).toMatch(/or a bearer token/);
  });

  it('configuration refuses none, HS* and a plaintext JWKS URL, naming the option', () => {
    const base = { issuer: 'https://i', audience: 'a', jwksUrl: 'https://i/jwks' };
    expect(() => compileOidcOptions({ ...base, algorithms: ['none'] })).toThrow(/options.oidc.algorithms: none/);
    expect(() => compileOidcOptions({ ...base, algorithms: ['HS256'] })).toThrow(/options.oidc.algorithms: HS256 is a shared-secret/);
    expect(() => compileOidcOptions({ ...base, jwksUrl: 'http://i/jwks' })).toThrow(/jwksUrl.*https/);
    expect(() => compileOidcOptions({ ...base, claims: { rolez: 'x' } as never })).toThrow(/unknown key "rolez"/);
  });
});
