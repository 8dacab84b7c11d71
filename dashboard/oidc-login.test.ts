/**
 * Browser sign-in with OpenID Connect over real sockets: the dashboard over HTTPS, a test issuer (discovery, JWKS,
 * auto-approving /authorize, /token checking PKCE), and a small cookie-keeping client that follows the redirects a
 * browser would. The success path first (the positive control), then each check that must refuse.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../coordinator/job-record.js';
import { loadTlsMaterial } from '../common/tls.js';
import { createOidcVerifier, type OidcVerifier } from '../coordinator/identity/index.js';
import { fakeBackend, type FakeBackend } from '../test/helpers/dashboard-backend.js';
import { sharedCerts } from '../test/helpers/mesh.js';
import { startLoginIssuer, type LoginIssuer } from '../test/helpers/oidc-login-issuer.js';
import { call, Jar, type Res } from '../test/helpers/oidc-browser.js';
import { OidcLogin } from './oidc-login.js';
import { startDashboardServer, type RunningDashboard } from './server.js';
import { createDashboardApp } from './app.js';
import { FedmeshError } from '../common/errors.js';

const job = (id: string, researcher: string): JobRecord => ({
  id, kind: 'aggregate', researcher, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: ['a1'], agentsAnswered: ['a1'], agentsMissing: [], error: undefined,
  spec: { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } } as unknown as JobRecord['spec'],
  result: { columns: ['count'], rows: [{ count: 42 }], suppressed: [], privacy: { mode: 'none' }, notes: [], agentErrors: {} },
});

describe('OIDC sign-in in the browser (authorization code + PKCE)', () => {
  let tlsDir: string;
  let idp: LoginIssuer;
  let verifier: OidcVerifier;
  let dash: RunningDashboard;
  let backend: FakeBackend;
  let ca: Buffer;

  beforeAll(async () => {
    tlsDir = await sharedCerts(['a1']);
    idp = await startLoginIssuer(tlsDir, { redirectUris: () => [new URL('auth/callback', dash.url).href] });
    ca = idp.ca;
    verifier = createOidcVerifier({ issuer: idp.issuer, audience: idp.clientId, jwksUrl: idp.jwksUrl, jwksCa: idp.ca, clockSkewSec: 5 });
    backend = fakeBackend([], [job('job-of-oidc-alice', 'oidc-alice'), job('job-of-bob', 'bob')]);
    dash = await startDashboardServer({ backend, listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator'), oidc: verifier, login: {} });
  }, 60_000);
  afterAll(async () => {
    await dash?.close();
    await idp?.close();
  });

  /** Browser steps from an unauthenticated page to the callback's answer. */
  async function signIn(jar: Jar, path = '/jobs'): Promise<Res> {
    const first = await call(new URL(path, dash.url).href, ca, { cookie: jar.header() });
    expect(first.status).toBe(303);
    expect(first.location).toBe(`/login?next=${encodeURIComponent(path)}`);
    const start = await call(new URL(first.location!, dash.url).href, ca, { cookie: jar.header() });
    expect(start.status).toBe(302);
    jar.take(start);
    const authorize = await call(start.location!, ca);
    expect(authorize.status).toBe(302);
    const callback = await call(authorize.location!, ca, { cookie: jar.header() });
    jar.take(callback);
    return callback;
  }

  it('signs in, with a session cookie that is HttpOnly, Secure, SameSite=Lax, opaque and expiring, and sees only own jobs', async () => {
    const jar = new Jar();
    const cb = await signIn(jar);
    expect(cb.status, cb.body.slice(0, 300)).toBe(303);
    expect(cb.location).toBe('/jobs');
    const session = cb.setCookie.find((c) => c.startsWith('__Host-fedmesh-session='))!;
    expect(session).toMatch(/; Max-Age=28800/);
    expect(session).toMatch(/; Path=\//);
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; SameSite=Lax/);
    const value = jar.cookies.get('__Host-fedmesh-session')!;
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toContain('alice');
    // The flow cookie is gone after the callback.
    expect(jar.cookies.has('__Host-fedmesh-signin')).toBe(false);

    const jobs = await call(new URL('/jobs', dash.url).href, ca, { cookie: jar.header() });
    expect(jobs.status).toBe(200);
    expect(jobs.body).toContain('signed in as <strong>oidc-alice</strong>');
    expect(jobs.body).toContain('job-of-');
    expect(jobs.body).toContain('data-job-id="job-of-oidc-alice"');
    expect(jobs.body).not.toContain('job-of-bob');
    expect((await call(new URL('/jobs/job-of-bob', dash.url).href, ca, { cookie: jar.header() })).status).toBe(404);

    // PKCE with S256: the verifier sent to /token hashes to the challenge sent to /authorize.
    const auth = idp.authorizeRequests.at(-1)!;
    const tok = idp.tokenRequests.at(-1)!;
    expect(auth.get('code_challenge_method')).toBe('S256');
    expect(createHash('sha256').update(tok.get('code_verifier')!).digest('base64url')).toBe(auth.get('code_challenge'));
    expect(auth.get('scope')).toBe('openid profile');
    expect(auth.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('gives a browser user the attributes a bearer-token user gets from the same claims map', async () => {
    const jar = new Jar();
    expect((await signIn(jar, '/submit')).status).toBe(303);
    const page = await call(new URL('/submit', dash.url).href, ca, { cookie: jar.header() });
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const form = new URLSearchParams({ _csrf: token, spec: JSON.stringify({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } }) });
    const res = await call(new URL('/submit/confirm', dash.url).href, ca, { method: 'POST', cookie: jar.header(), body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(dash.url).origin } });
    expect(res.status).toBe(303);
    const caller = backend.submitted.at(-1)!.caller;
    expect(caller).toEqual({ name: 'oidc-alice', isAdmin: false, authenticatedBy: 'oidc', attributes: { organisation: 'org-x', roles: ['researcher'], purposes: ['HRESCH'], projects: ['P-17'] } });
    // What the coordinator's bearer-token verifier makes of the same claims (mapClaims with the same map).
    const { mapClaims } = await import('../coordinator/identity/index.js');
    expect(mapClaims(idp.user as Record<string, unknown>, verifier.options.claims)).toEqual({ name: caller.name, isAdmin: caller.isAdmin, attributes: caller.attributes });
  });

  it.each([
    ['a state that is not this sign-in’s', { state: 'forged-state' }, /state returned by the identity provider does not match/],
    ['an ID token with another nonce', { nonce: 'replayed-nonce' }, /not issued for this sign-in \(nonce\)/],
    ['an ID token from another issuer', { otherIssuer: true }, /another issuer|not signed by the issuer/],
    ['an expired ID token', { expiredSecAgo: 600 }, /ID token has expired/],
    ['an ID token for another client', { audience: 'someone-else' }, /for another client/],
  ])('refuses %s: 401, no session', async (_what, m, why) => {
    const jar = new Jar();
    idp.misbehave(m);
    const cb = await signIn(jar);
    expect(cb.status).toBe(401);
    expect(cb.body).toMatch(why);
    expect(jar.cookies.has('__Host-fedmesh-session')).toBe(false);
    expect((await call(new URL('/jobs', dash.url).href, ca, { cookie: jar.header() })).status).toBe(303);
  });

  it('maps roles as for bearer tokens: an administrator sees every job; a user with neither role is refused', async () => {
    const saved = idp.user;
    try {
      idp.user = { ...saved, sub: 'oidc-root', roles: ['fedmesh-admin'] };
      const jar = new Jar();
      expect((await signIn(jar)).status).toBe(303);
      const jobs = await call(new URL('/jobs', dash.url).href, ca, { cookie: jar.header() });
      expect(jobs.body).toContain('data-job-id="job-of-bob"');
      expect(jobs.body).toContain('data-job-id="job-of-oidc-alice"');
      expect((await call(new URL('/audit', dash.url).href, ca, { cookie: jar.header() })).status).toBe(200);

      idp.user = { ...saved, sub: 'oidc-nurse', roles: ['nurse'] };
      const cb = await signIn(new Jar());
      expect(cb.status).toBe(401);
      expect(cb.body).toContain('holds neither the researcher role');
    } finally {
      idp.user = saved;
    }
  });

  it('refuses a callback replayed, or arriving in a browser that did not start the sign-in (login CSRF)', async () => {
    const jar = new Jar();
    const start = await call(new URL('/login?next=/jobs', dash.url).href, ca);
    jar.take(start);
    const authorize = await call(start.location!, ca);
    // Another browser (no flow cookie) gets the callback: refused.
    expect((await call(authorize.location!, ca)).status).toBe(401);
    // The right browser, once: accepted; the same callback again: refused (the flow is single use).
    const ok = await call(authorize.location!, ca, { cookie: jar.header() });
    expect(ok.status).toBe(303);
    expect((await call(authorize.location!, ca, { cookie: jar.header() })).status).toBe(401);
  });

  it('keeps the flow in an opaque, unforgeable cookie: a tampered one, or one from another dashboard process, is refused', async () => {
    const start = await call(new URL('/login', dash.url).href, ca);
    const flowCookie = start.setCookie.find((c) => c.startsWith('__Host-fedmesh-signin='))!;
    expect(flowCookie).toMatch(/; HttpOnly/);
    expect(flowCookie).toMatch(/; Secure/);
    expect(flowCookie).toMatch(/; SameSite=Lax/);
    const value = flowCookie.split(';')[0]!.split('=')[1]!;
    const state = new URL(start.location!).searchParams.get('state')!;
    // The state, nonce and PKCE verifier are not readable from the cookie.
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toContain(state);
    const back = (await call(start.location!, ca)).location!;
    const flipped = `${value.slice(0, 20)}${value[20] === 'A' ? 'B' : 'A'}${value.slice(21)}`;
    expect((await call(back, ca, { cookie: `__Host-fedmesh-signin=${flipped}` })).status).toBe(401);
    // Another process (another key) cannot open it either; the genuine cookie still works once.
    const other = new OidcLogin({ verifier, secureCookies: true, baseUrl: dash.url });
    const u = new URL(back);
    await expect(other.finish(value, { code: u.searchParams.get('code')!, state: u.searchParams.get('state')! })).rejects.toThrow(/no sign-in was started from this browser/);
    expect((await call(back, ca, { cookie: `__Host-fedmesh-signin=${value}` })).status).toBe(303);
  });

  it('only redirects to a path on the dashboard after sign-in', async () => {
    const jar = new Jar();
    const start = await call(new URL(`/login?next=${encodeURIComponent('//evil.example/x')}`, dash.url).href, ca);
    jar.take(start);
    const cb = await call((await call(start.location!, ca)).location!, ca, { cookie: jar.header() });
    expect(cb.location).toBe('/');
  });

  it('signs out with a CSRF-protected form; the old session cookie no longer works', async () => {
    const jar = new Jar();
    await signIn(jar);
    const old = jar.header();
    const page = await call(new URL('/jobs', dash.url).href, ca, { cookie: old });
    expect(page.body).toContain('action="/logout"');
    const token = /action="\/logout"><input type="hidden" name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const post = (body: string) => call(new URL('/logout', dash.url).href, ca, { method: 'POST', cookie: old, body, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(dash.url).origin } });
    expect((await post('_csrf=forged')).status).toBe(403);
    expect((await call(new URL('/jobs', dash.url).href, ca, { cookie: old })).status).toBe(200);
    const out = await post(`_csrf=${encodeURIComponent(token)}`);
    expect(out.status).toBe(303);
    expect(out.location).toBe('/signed-out');
    expect(out.setCookie.some((c) => c.startsWith('__Host-fedmesh-session=;') && /Max-Age=0/.test(c))).toBe(true);
    expect((await call(new URL('/jobs', dash.url).href, ca, { cookie: old })).status).toBe(303);
    const signedOut = await call(new URL('/signed-out', dash.url).href, ca);
    expect(signedOut.status).toBe(200);
    expect(signedOut.body).toContain(`${idp.issuer}/logout?client_id=`);
  });

  it('the test issuer refuses a wrong PKCE verifier (negative control of the helper)', async () => {
    const start = await call(new URL('/login', dash.url).href, ca);
    const code = new URL((await call(start.location!, ca)).location!).searchParams.get('code')!;
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, client_id: idp.clientId, redirect_uri: new URL('auth/callback', dash.url).href, code_verifier: 'A'.repeat(43) });
    const res = await call(`${idp.issuer}/token`, ca, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(400);
    expect(idp.tokenErrors.at(-1)).toBe('invalid_grant');
  });

  it('a session ends at its expiry', async () => {
    const login = new OidcLogin({ verifier, secureCookies: true, baseUrl: dash.url, sessionTtlMs: 60_000 });
    const t0 = Date.now();
    const { location, flowId } = await login.start('/');
    const cb = new URL((await call(location, ca)).location!);
    const { sessionId, principal } = await login.finish(flowId, { code: cb.searchParams.get('code')!, state: cb.searchParams.get('state')! }, t0);
    expect(login.principalOf(sessionId, t0 + 59_999)).toEqual(principal);
    expect(login.principalOf(sessionId, t0 + 60_000)).toBeUndefined();
  });

  it('at its session cap, refuses a new user with 503 and says why, and signs nobody out (maxSessions 1)', async () => {
    const small = new OidcLogin({ verifier, secureCookies: true, baseUrl: dash.url, maxSessions: 1, maxSessionsPerUser: 1 });
    const app = createDashboardApp({ backend, login: small, identify: () => Promise.reject(new FedmeshError('UNAUTHENTICATED', 'no certificate')) });
    /** One sign-in in-process: /login, the issuer's /authorize over its socket, then the callback. */
    const signInTo = async (): Promise<Response> => {
      const start = await app.request('/login?next=/jobs');
      const flow = /__Host-fedmesh-signin=([^;]+)/.exec(start.headers.get('set-cookie') ?? '')![1]!;
      const back = new URL((await call(start.headers.get('location')!, ca)).location!);
      return app.request(`${back.pathname}${back.search}`, { headers: { cookie: `__Host-fedmesh-signin=${flow}`, accept: 'text/html' } });
    };
    const sessionOf = (r: Response): string => /__Host-fedmesh-session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')![1]!;
    const saved = idp.user;
    try {
      const alice = await signInTo();
      expect(alice.status).toBe(303);
      const aliceSession = sessionOf(alice);
      idp.user = { ...saved, sub: 'oidc-bob' };
      const bob = await signInTo();
      expect(bob.status).toBe(503);
      expect(bob.headers.get('retry-after')).toBe('300');
      expect(bob.headers.get('set-cookie') ?? '').not.toContain('__Host-fedmesh-session=');
      expect(await bob.text()).toContain('RESOURCE_EXHAUSTED: sign-in is unavailable');
      expect(small.principalOf(aliceSession)?.name).toBe('oidc-alice');
      // Control: the same cap lets the user who holds the one session sign in again (their own oldest goes).
      idp.user = saved;
      const again = await signInTo();
      expect(again.status).toBe(303);
      expect(small.principalOf(sessionOf(again))?.name).toBe('oidc-alice');
      expect(small.principalOf(aliceSession)).toBeUndefined();
    } finally {
      idp.user = saved;
    }
  });

  /** One sign-in straight through OidcLogin (the issuer's /authorize over its socket) as `sub`, at `nowMs`. */
  async function signInAs(login: OidcLogin, sub: string, nowMs = Date.now()): Promise<Awaited<ReturnType<OidcLogin['finish']>>> {
    const saved = idp.user;
    try {
      idp.user = { ...saved, sub, ...(sub.startsWith('nurse') ? { roles: ['nurse'] } : {}) };
      const { location, flowId } = await login.start('/', nowMs);
      const back = new URL((await call(location, ca)).location!);
      return await login.finish(flowId, { code: back.searchParams.get('code')!, state: back.searchParams.get('state')! }, nowMs);
    } finally {
      idp.user = saved;
    }
  }

  it('refuses an identity that is neither researcher nor administrator of the mesh before storing anything, saying so (F3)', async () => {
    const login = new OidcLogin({ verifier, secureCookies: true, baseUrl: dash.url });
    for (let i = 0; i < 3; i++) {
      await expect(signInAs(login, `nurse-${i}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/holds neither the researcher role.*signs in only the mesh's researchers and administrators/) });
    }
    expect(login.stored).toEqual({ sessions: 0, replayGuards: 0 });
    // Control: a researcher's sign-in is stored (one session, one replay guard).
    await signInAs(login, 'oidc-alice');
    expect(login.stored).toEqual({ sessions: 1, replayGuards: 1 });
  });

  it('caps sign-ins per account within a flow lifetime: one looping account is refused alone (429), others sign in (F3, attack b)', async () => {
    const t0 = Date.now();
    const login = new OidcLogin({ verifier, secureCookies: true, baseUrl: dash.url, maxSessionsPerUser: 1, maxSignInsPerUser: 3, flowTtlMs: 60_000 });
    for (let i = 0; i < 3; i++) await signInAs(login, 'mallory', t0 + i);
    // Its sessions rotated within its own maximum (1); its replay guards are at its cap.
    expect(login.stored).toEqual({ sessions: 1, replayGuards: 3 });
    const refusal = signInAs(login, 'mallory', t0 + 10);
    await expect(refusal).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', field: 'maxSignInsPerUser', message: expect.stringMatching(/this account signed in 3 times .*try again in 60 s/) });
    expect(login.stored).toEqual({ sessions: 1, replayGuards: 3 });
    // Negative control of the lock-out: everyone else still signs in while mallory is refused.
    for (const who of ['oidc-alice', 'oidc-bob']) expect((await signInAs(login, who, t0 + 20)).principal.name).toBe(who);
    expect(login.stored).toEqual({ sessions: 3, replayGuards: 5 });
    // Once the flow lifetime has passed, every guard so far has expired (each at its flow's start + 60 s) and is
    // dropped: mallory signs in again, and only that sign-in's guard is kept.
    expect((await signInAs(login, 'mallory', t0 + 60_020)).principal.name).toBe('mallory');
    expect(login.stored.replayGuards).toBe(1);
  });

  it('answers a looping account with 429 and Retry-After at the callback (the route; a full table is 503, above)', async () => {
    const small = new OidcLogin({ verifier, secureCookies: true, baseUrl: dash.url, maxSignInsPerUser: 1 });
    const app = createDashboardApp({ backend, login: small, identify: () => Promise.reject(new FedmeshError('UNAUTHENTICATED', 'no certificate')) });
    const signInTo = async (): Promise<Response> => {
      const start = await app.request('/login?next=/jobs');
      const flow = /__Host-fedmesh-signin=([^;]+)/.exec(start.headers.get('set-cookie') ?? '')![1]!;
      const back = new URL((await call(start.headers.get('location')!, ca)).location!);
      return app.request(`${back.pathname}${back.search}`, { headers: { cookie: `__Host-fedmesh-signin=${flow}`, accept: 'text/html' } });
    };
    expect((await signInTo()).status).toBe(303);
    const again = await signInTo();
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(Number(again.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    expect(again.headers.get('set-cookie') ?? '').not.toContain('__Host-fedmesh-session=');
    expect(await again.text()).toContain('RESOURCE_EXHAUSTED: sign-in is refused for now: this account signed in 1 times');
  });

  it('an unreachable identity provider gives a sign-in error page, not a redirect loop', async () => {
    const down = createOidcVerifier({ issuer: 'https://127.0.0.1:1/realms/none', audience: 'x', jwksUrl: 'https://127.0.0.1:1/jwks', jwksTimeoutMs: 1000 });
    const app = createDashboardApp({ backend, login: new OidcLogin({ verifier: down, secureCookies: true, baseUrl: 'https://dash.example/' }), identify: () => Promise.reject(new FedmeshError('UNAUTHENTICATED', 'no certificate')) });
    const jobs = await app.request('/jobs', { headers: { accept: 'text/html' } });
    expect(jobs.status).toBe(303);
    const res = await app.request(jobs.headers.get('location')!, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('the identity provider could not be reached');
  });

  it('refuses bad options naming them', () => {
    expect(() => new OidcLogin({ verifier, secureCookies: true, sessionTtlMs: 0 })).toThrow(/options.login.sessionTtlMs/);
    expect(() => new OidcLogin({ verifier, secureCookies: true, scopes: ['profile'] })).toThrow(/options.login.scopes must include 'openid'/);
    expect(() => new OidcLogin({ verifier, secureCookies: true, maxSessionsPerUser: 0 })).toThrow(/options.login.maxSessionsPerUser must be an integer between 1 and 1000/);
    expect(() => new OidcLogin({ verifier, secureCookies: true, maxSignInsPerUser: 0 })).toThrow(/options.login.maxSignInsPerUser must be an integer between 1 and 100000/);
  });
});
