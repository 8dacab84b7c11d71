/**
 * Signing in to the dashboard with OpenID Connect in the browser (issue 12 point "OIDC login"): the authorization
 * code flow with PKCE (RFC 7636, S256) against the issuer the coordinator already trusts for bearer tokens, so a
 * browser user is verified against the same issuer, JWKS, algorithms and clock skew and gets the same attributes
 * from the same claims map as a bearer-token user of the gRPC API.
 *
 * - `GET /login` makes a fresh `state`, `nonce` and PKCE verifier, seals them (AES-256-GCM under a per-process key)
 *   into an HttpOnly cookie — binding the flow to this browser (a callback from another browser finds nothing) while
 *   the server keeps no state for anonymous callers — and redirects to the issuer's authorization endpoint (from
 *   its discovery document).
 * - `GET /auth/callback` requires that flow (10 minutes; a succeeded one is remembered until then, so the same
 *   callback cannot be replayed into a second session), the same `state`, trades the code and the
 *   verifier for tokens at the token endpoint, verifies the ID token with `jose` (issuer, audience = client id,
 *   allowed algorithms, expiry with skew, `nonce` equal to the flow's), maps its claims and opens a session.
 * - Only a principal the mesh knows gets a session: the claims map (coordinator/identity/claims-map.ts, the same as
 *   for bearer tokens) must find the researcher or the administrator role, which is how the coordinator admits an
 *   OIDC caller at all (it keeps no user list of its own). Anyone else is refused before anything is stored — no
 *   replay guard, no session — so an identity provider that lets anyone register cannot make the dashboard keep
 *   state for them. The replay guards are kept per principal and capped per principal (dashboard/oidc-replay.ts),
 *   which also limits how often one account signs in.
 * - The session is an opaque 256-bit random id in a cookie (HttpOnly, SameSite=Lax, Secure and `__Host-` over
 *   HTTPS) naming a server-side entry with a fixed expiry; nothing about the user is in the cookie. The table is
 *   capped without ever signing a live user out for someone else (dashboard/oidc-sessions.ts says why).
 * - `POST /logout` (CSRF-protected like every form) ends the session.
 *
 * Every refusal is UNAUTHENTICATED with fixed words; no token or provider message is echoed.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { FedmeshError } from '../common/errors.js';
import { createJwksFetch, mapClaims, type OidcVerifier } from '../coordinator/identity/index.js';
import type { Principal } from '../coordinator/principal.js';
import type { DashboardEnv } from './env.js';
import { idpJson } from './oidc-http.js';
import { OidcSessions, sessionsFull } from './oidc-sessions.js';
import { FinishedFlows } from './oidc-replay.js';

export interface OidcLoginOptions {
  /** The coordinator's bearer-token verifier: its issuer, JWKS, algorithms, skew and claims map are used as they are. */
  verifier: OidcVerifier;
  /** The dashboard's client id at the issuer; the ID token's audience. @default the verifier's audience */
  clientId?: string;
  /** A confidential client's secret (sent as HTTP Basic to the token endpoint). @default none: a public client with PKCE */
  clientSecret?: string;
  /** The dashboard's public address (redirect URI = this + `auth/callback`). @default the address the server listens on */
  baseUrl?: string;
  /** @default ['openid', 'profile'] */
  scopes?: string[];
  /** How long a session lasts from sign-in. @default 28800000 (8 h) */
  sessionTtlMs?: number;
  /** How long a started sign-in may take. @default 600000 (10 min) */
  flowTtlMs?: number;
  /** Most sessions kept; when all are live and none is the signing-in user's, sign-in is refused (503). @default 10000 */
  maxSessions?: number;
  /** Most live sessions of one user; signing in once more ends their own oldest. @default 16 */
  maxSessionsPerUser?: number;
  /**
   * Most sign-ins of one user within one flow lifetime (`flowTtlMs`): each is remembered that long against a
   * replayed callback, and one more is refused for that user alone (429). @default 4 × maxSessionsPerUser
   */
  maxSignInsPerUser?: number;
  /** Whether the dashboard is served over HTTPS (cookies Secure and `__Host-`). */
  secureCookies: boolean;
}

interface Discovery {
  authorizationEndpoint: URL;
  tokenEndpoint: URL;
  endSessionEndpoint: URL | undefined;
  fetchedAtMs: number;
}

interface Flow {
  /** Random id: remembered once the sign-in succeeded, so the same callback cannot open a second session. */
  id: string;
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  expiresAtMs: number;
}

const DISCOVERY_MAX_AGE_MS = 3_600_000;
/** Default sign-ins of one user per flow lifetime, per session slot: a few tabs or devices, re-signing in. */
const SIGN_INS_PER_SESSION = 4;
/** Retry-After of a sign-in refused because every session is live: sessions end only at logout or expiry. */
const FULL_RETRY_AFTER_SEC = 300;
/** Longest flow cookie read (an encrypted flow is about 400 characters). */
const MAX_FLOW_COOKIE_CHARS = 2048;
const NEXT = /^\/(?![/\\])[\x21-\x7e]{0,511}$/;
const b64url = (bytes: Buffer): string => bytes.toString('base64url');
const refused = (why: string, cause?: unknown): FedmeshError => new FedmeshError('UNAUTHENTICATED', `sign-in failed: ${why}`, cause === undefined ? {} : { cause });

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function httpsUrl(v: unknown, field: string): URL {
  let u: URL;
  try {
    u = new URL(String(v));
  } catch {
    throw refused(`the discovery document's ${field} is not a URL`);
  }
  if (u.protocol !== 'https:') throw refused(`the discovery document's ${field} is not https`);
  return u;
}

/** Why the ID token was refused, in fixed words (jose's messages may quote claim values). */
function idTokenReason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'the ID token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) return e.claim === 'iss' ? 'the ID token is from another issuer' : e.claim === 'aud' ? 'the ID token is for another client' : `the ID token's ${e.claim.slice(0, 16)} claim is not valid`;
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey) return "the ID token is not signed by the issuer's keys";
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return 'the ID token uses an algorithm that is not accepted';
  return 'the ID token is not valid';
}

export class OidcLogin {
  readonly sessionCookie: string;
  readonly flowCookie: string;
  readonly clientId: string;
  private readonly o: Required<Pick<OidcLoginOptions, 'sessionTtlMs' | 'flowTtlMs' | 'maxSessions' | 'maxSessionsPerUser' | 'maxSignInsPerUser' | 'scopes'>> & OidcLoginOptions;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  /** Key of the flow cookies (AES-256-GCM), per process: a flow lives in the browser, not in server memory. */
  private readonly flowKey = randomBytes(32);
  /** Flow ids of successful sign-ins, until their expiry, per principal. */
  private readonly finished: FinishedFlows;
  private readonly sessions: OidcSessions;
  private discovery: Discovery | undefined;
  private baseUrl: URL | undefined;

  /** @throws RangeError naming the option */
  constructor(options: OidcLoginOptions) {
    const perUser = options.maxSessionsPerUser ?? 16;
    const o = { sessionTtlMs: 8 * 3_600_000, flowTtlMs: 600_000, maxSessions: 10_000, maxSessionsPerUser: perUser, maxSignInsPerUser: SIGN_INS_PER_SESSION * perUser, scopes: ['openid', 'profile'], ...options };
    for (const [k, max] of [['sessionTtlMs', 7 * 86_400_000], ['flowTtlMs', 3_600_000], ['maxSessions', 1_000_000], ['maxSessionsPerUser', 1000], ['maxSignInsPerUser', 100_000]] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1 || o[k] > max) throw new RangeError(`options.login.${k} must be an integer between 1 and ${max}, got ${String(o[k])}`);
    }
    if (!o.scopes.includes('openid') || o.scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(s))) throw new RangeError("options.login.scopes must include 'openid' and hold scope tokens only");
    this.clientId = o.clientId ?? o.verifier.options.audience;
    if (!/^[\x20-\x7e]{1,256}$/.test(this.clientId)) throw new RangeError('options.login.clientId must be 1 to 256 printable characters');
    if (o.baseUrl !== undefined) this.setBaseUrl(o.baseUrl);
    this.o = o;
    this.sessions = new OidcSessions({ ttlMs: o.sessionTtlMs, maxSessions: o.maxSessions, maxPerPrincipal: o.maxSessionsPerUser });
    this.finished = new FinishedFlows(o.maxSignInsPerUser);
    this.sessionCookie = o.secureCookies ? '__Host-fedmesh-session' : 'fedmesh-session';
    this.flowCookie = o.secureCookies ? '__Host-fedmesh-signin' : 'fedmesh-signin';
    const v = o.verifier.options;
    this.jwks = createRemoteJWKSet(v.jwksUrl, { cacheMaxAge: v.jwksCacheMs, timeoutDuration: v.jwksTimeoutMs, cooldownDuration: 30_000, [customFetch]: createJwksFetch(v.jwksCa ? { ca: v.jwksCa } : {}) });
  }

  /** The dashboard's public address, when the server learns it after listening. @throws RangeError */
  setBaseUrl(url: string): void {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RangeError('options.login.baseUrl must be an http(s) URL');
    this.baseUrl = new URL(u.pathname.endsWith('/') ? u.href : `${u.href}/`);
  }

  get redirectUri(): string {
    if (!this.baseUrl) throw new FedmeshError('FAILED_PRECONDITION', 'sign-in is not ready: the dashboard address is not known yet');
    return new URL('auth/callback', this.baseUrl).href;
  }

  /** The issuer's endpoints from its discovery document, checked to name the configured issuer (OIDC Discovery §4.3). */
  private async endpoints(nowMs: number): Promise<Discovery> {
    if (this.discovery && nowMs - this.discovery.fetchedAtMs < DISCOVERY_MAX_AGE_MS) return this.discovery;
    const issuer = this.o.verifier.options.issuer;
    const res = await idpJson(new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`), { method: 'GET' }, { ca: this.o.verifier.options.jwksCa });
    const d = res.body as Record<string, unknown>;
    if (res.status !== 200 || typeof d !== 'object' || d === null) throw refused(`the identity provider's discovery document could not be read (HTTP ${res.status})`);
    if (d.issuer !== issuer) throw refused('the discovery document names another issuer than the one configured');
    const methods = d.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes('S256')) throw refused('the identity provider does not support PKCE with S256');
    this.discovery = {
      authorizationEndpoint: httpsUrl(d.authorization_endpoint, 'authorization_endpoint'),
      tokenEndpoint: httpsUrl(d.token_endpoint, 'token_endpoint'),
      endSessionEndpoint: d.end_session_endpoint === undefined ? undefined : httpsUrl(d.end_session_endpoint, 'end_session_endpoint'),
      fetchedAtMs: nowMs,
    };
    return this.discovery;
  }

  /** Starts a sign-in: the authorization URL to redirect to, and the flow id for the cookie. */
  async start(next: string | undefined, nowMs = Date.now()): Promise<{ location: string; flowId: string }> {
    const ep = await this.endpoints(nowMs);
    const flow: Flow = { id: b64url(randomBytes(16)), state: b64url(randomBytes(32)), nonce: b64url(randomBytes(32)), verifier: b64url(randomBytes(48)), next: next && NEXT.test(next) ? next : '/', expiresAtMs: nowMs + this.o.flowTtlMs };
    const flowId = this.seal(flow);
    const u = new URL(ep.authorizationEndpoint);
    const challenge = b64url(createHash('sha256').update(flow.verifier).digest());
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: this.clientId, redirect_uri: this.redirectUri, scope: this.o.scopes.join(' '), state: flow.state, nonce: flow.nonce, code_challenge: challenge, code_challenge_method: 'S256' })) u.searchParams.set(k, v);
    return { location: u.href, flowId };
  }

  /**
   * Finishes a sign-in from the callback's query: the principal and where to go.
   * @throws FedmeshError UNAUTHENTICATED saying which check failed
   */
  async finish(flowId: string | undefined, query: { code?: string | undefined; state?: string | undefined; error?: string | undefined }, nowMs = Date.now()): Promise<{ sessionId: string; principal: Principal; next: string }> {
    const flow = this.open(flowId);
    if (!flow || flow.expiresAtMs <= nowMs || this.finished.has(flow.id)) throw refused('no sign-in was started from this browser, or it took too long: sign in again');
    if (typeof query.state !== 'string' || !sameString(query.state, flow.state)) throw refused('the state returned by the identity provider does not match this sign-in');
    if (query.error !== undefined) throw refused(`the identity provider refused (${/^[a-z_]{1,40}$/.test(query.error) ? query.error : 'error'})`);
    if (typeof query.code !== 'string' || query.code.length === 0 || query.code.length > 2048) throw refused('the identity provider returned no authorization code');
    const ep = await this.endpoints(nowMs);
    const form = new URLSearchParams({ grant_type: 'authorization_code', code: query.code, redirect_uri: this.redirectUri, client_id: this.clientId, code_verifier: flow.verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.o.clientSecret !== undefined) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(this.clientId)}:${encodeURIComponent(this.o.clientSecret)}`).toString('base64')}`;
    const res = await idpJson(ep.tokenEndpoint, { method: 'POST', headers, body: form.toString() }, { ca: this.o.verifier.options.jwksCa });
    const idToken = (res.body as { id_token?: unknown } | null)?.id_token;
    if (res.status !== 200 || typeof idToken !== 'string') throw refused(`the token endpoint did not return an ID token (HTTP ${res.status})`);
    if (idToken.length > this.o.verifier.options.maxTokenBytes) throw refused('the ID token is too long');
    const v = this.o.verifier.options;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.jwks, { issuer: v.issuer, audience: this.clientId, algorithms: [...v.algorithms], clockTolerance: v.clockSkewSec, requiredClaims: ['exp', 'iat', 'sub', 'nonce'], currentDate: new Date(nowMs) }));
    } catch (e) {
      throw refused(idTokenReason(e), e);
    }
    if (typeof payload.nonce !== 'string' || !sameString(payload.nonce, flow.nonce)) throw refused('the ID token was not issued for this sign-in (nonce)');
    // OIDC Core 3.1.3.7: with several audiences the authorized party must be this client.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== this.clientId) throw refused('the ID token was issued to another client (azp)');
    let mapped: ReturnType<typeof mapClaims>;
    try {
      mapped = mapClaims(payload as Record<string, unknown>, v.claims);
    } catch (e) {
      // Not a researcher or administrator of the mesh (or a malformed claim): refused before anything is stored.
      const unknown = e instanceof FedmeshError && e.details.role === 'none' ? '; the dashboard signs in only the mesh\'s researchers and administrators' : '';
      throw refused(`${(e as Error).message.replace(/^bearer token refused: /, '')}${unknown}`, e);
    }
    const principal: Principal = { name: mapped.name, isAdmin: mapped.isAdmin, authenticatedBy: 'oidc', attributes: mapped.attributes };
    // Only a sign-in that succeeded is remembered: an anonymous or unknown caller cannot make the server keep anything.
    if (this.finished.has(flow.id)) throw refused('no sign-in was started from this browser, or it took too long: sign in again');
    // This principal's own sign-ins are capped (429); a full session table refuses only when nobody can make room.
    this.finished.checkRoom(principal.name, nowMs);
    if (!this.sessions.hasRoomFor(principal, nowMs)) throw sessionsFull();
    this.finished.add(flow.id, principal.name, flow.expiresAtMs);
    const sessionId = this.sessions.open(principal, nowMs);
    return { sessionId, principal, next: flow.next };
  }

  /** The flow as an opaque cookie value: AES-256-GCM under the per-process key (confidential and unforgeable). */
  private seal(flow: Flow): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.flowKey, iv);
    const body = Buffer.concat([c.update(JSON.stringify(flow), 'utf8'), c.final()]);
    return b64url(Buffer.concat([iv, c.getAuthTag(), body]));
  }

  /** The flow a cookie value holds, or undefined when it is absent, too long, forged or from another process. */
  private open(value: string | undefined): Flow | undefined {
    if (!value || value.length > MAX_FLOW_COOKIE_CHARS) return undefined;
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < 12 + 16 + 2) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.flowKey, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      const f = JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as Flow;
      return typeof f.id === 'string' && typeof f.state === 'string' && typeof f.nonce === 'string' && typeof f.verifier === 'string' && typeof f.next === 'string' && typeof f.expiresAtMs === 'number' ? f : undefined;
    } catch {
      return undefined;
    }
  }

  /** What the sign-in keeps in memory: live sessions and replay guards (for tests and the operator's metrics). */
  get stored(): { sessions: number; replayGuards: number } {
    return { sessions: this.sessions.size, replayGuards: this.finished.size };
  }

  /** The signed-in principal of a session cookie value, or undefined (unknown, ended or expired). */
  principalOf(sessionId: string | undefined, nowMs = Date.now()): Principal | undefined {
    return this.sessions.principalOf(sessionId, nowMs);
  }

  end(sessionId: string | undefined): void {
    this.sessions.end(sessionId);
  }

  /** Where a person signs out at the identity provider too, when it publishes an end-session endpoint. */
  get providerSignOut(): string | undefined {
    const ep = this.discovery?.endSessionEndpoint;
    if (!ep || !this.baseUrl) return undefined;
    const u = new URL(ep);
    u.searchParams.set('client_id', this.clientId);
    u.searchParams.set('post_logout_redirect_uri', new URL('signed-out', this.baseUrl).href);
    return u.href;
  }

  cookieOptions(maxAgeSec: number) {
    return { path: '/', httpOnly: true, secure: this.o.secureCookies, sameSite: 'Lax' as const, maxAge: maxAgeSec, ...(this.o.secureCookies ? { prefix: 'host' as const } : {}) };
  }

  get sessionMaxAgeSec(): number {
    return Math.floor(this.o.sessionTtlMs / 1000);
  }

  get flowMaxAgeSec(): number {
    return Math.ceil(this.o.flowTtlMs / 1000);
  }
}

/** The cookie names without Hono's `__Host-` prefix (Hono adds it from the `prefix` option). */
function bare(name: string): string {
  return name.replace(/^__Host-/, '');
}

/** The signed-in principal of a request's session cookie, if any. */
export function sessionPrincipal(c: Context, login: OidcLogin): Principal | undefined {
  const secure = login.sessionCookie.startsWith('__Host-');
  return login.principalOf(secure ? getCookie(c, bare(login.sessionCookie), 'host') : getCookie(c, login.sessionCookie));
}

/**
 * The public sign-in routes (before authentication): `/login`, `/auth/callback`, `/signed-out`. `render` draws a
 * page for the outcome (the dashboard's layout, no principal).
 */
export function mountOidcLogin(app: Hono<DashboardEnv>, login: OidcLogin, render: (c: Context, title: string, text: string, link: { href: string; label: string }, status?: number) => Response): void {
  const secure = login.sessionCookie.startsWith('__Host-');
  const read = (c: Context, name: string): string | undefined => (secure ? getCookie(c, bare(name), 'host') : getCookie(c, name));

  app.get('/login', async (c) => {
    let started: Awaited<ReturnType<OidcLogin['start']>>;
    try {
      started = await login.start(c.req.query('next'));
    } catch (e) {
      // Shown, not redirected: an unreachable provider must not send the browser round /login for ever.
      if (!(e instanceof FedmeshError) || e.code !== 'UNAUTHENTICATED') throw e;
      return render(c, 'Sign-in failed', `${e.code}: ${e.message}`, { href: '/login', label: 'Try again' }, 401);
    }
    const { location, flowId } = started;
    setCookie(c, bare(login.flowCookie), flowId, login.cookieOptions(login.flowMaxAgeSec));
    return c.redirect(location, 302);
  });

  app.get('/auth/callback', async (c) => {
    const flowId = read(c, login.flowCookie);
    deleteCookie(c, bare(login.flowCookie), { path: '/', secure, ...(secure ? { prefix: 'host' as const } : {}) });
    let done: Awaited<ReturnType<OidcLogin['finish']>>;
    try {
      done = await login.finish(flowId, { code: c.req.query('code'), state: c.req.query('state'), error: c.req.query('error') });
    } catch (e) {
      // Shown, not redirected to /login: a provider that keeps failing must not make the browser loop.
      if (e instanceof FedmeshError && e.code === 'RESOURCE_EXHAUSTED') {
        // One account signing in too often is told so alone (429); a full table is the server's state (503).
        const own = e.field === 'maxSignInsPerUser';
        c.header('Retry-After', String(own ? Number(e.details.retryAfterSec) : FULL_RETRY_AFTER_SEC));
        return render(c, own ? 'Too many sign-ins' : 'Sign-in unavailable', `${e.code}: ${e.message}`, { href: '/login', label: 'Try again' }, own ? 429 : 503);
      }
      if (!(e instanceof FedmeshError) || e.code !== 'UNAUTHENTICATED') throw e;
      return render(c, 'Sign-in failed', `${e.code}: ${e.message}`, { href: '/login', label: 'Sign in again' }, 401);
    }
    const { sessionId, next } = done;
    setCookie(c, bare(login.sessionCookie), sessionId, login.cookieOptions(login.sessionMaxAgeSec));
    return c.redirect(next, 303);
  });

  app.get('/signed-out', (c) => {
    const idp = login.providerSignOut;
    return render(c, 'Signed out', 'You are signed out of the dashboard.', idp ? { href: idp, label: 'Also sign out at your identity provider' } : { href: '/login', label: 'Sign in again' });
  });
}

/** `POST /logout` (after authentication and the CSRF check): ends the session and clears its cookie. */
export function logout(c: Context, login: OidcLogin): Response {
  const secure = login.sessionCookie.startsWith('__Host-');
  login.end(secure ? getCookie(c, bare(login.sessionCookie), 'host') : getCookie(c, login.sessionCookie));
  deleteCookie(c, bare(login.sessionCookie), { path: '/', secure, ...(secure ? { prefix: 'host' as const } : {}) });
  return c.redirect('/signed-out', 303);
}
