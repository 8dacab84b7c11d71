/**
 * A minimal OpenID Connect provider for the dashboard's sign-in tests (test-only; `oidc-provider` is not a
 * dependency): HTTPS with the mesh's openssl-made coordinator certificate, a discovery document, a JWKS, an
 * `/authorize` that approves the configured test user at once (no login page), a `/token` that checks the code,
 * the redirect URI, the client id and the PKCE verifier (S256) before it signs an ID token with jose, and an
 * end-session endpoint. `misbehave` makes the next token response wrong in one chosen way, for negative controls.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

export interface LoginIssuerMisbehaviour {
  /** The callback carries another state than the one the dashboard sent. */
  state?: string;
  /** The ID token carries another nonce. */
  nonce?: string;
  /** The ID token is signed by another issuer (its own key and `iss`). */
  otherIssuer?: boolean;
  /** The ID token expired this many seconds ago. */
  expiredSecAgo?: number;
  /** The ID token is for another client (aud). */
  audience?: string;
}

export interface LoginIssuer {
  issuer: string;
  clientId: string;
  jwksUrl: string;
  ca: Buffer;
  /** Claims of the user `/authorize` approves (merged into every ID token). */
  user: JWTPayload;
  /** The next sign-in goes wrong this way (then the issuer behaves again). */
  misbehave(m: LoginIssuerMisbehaviour): void;
  /** What the issuer saw: authorization requests (query) and token requests (form). */
  readonly authorizeRequests: URLSearchParams[];
  readonly tokenRequests: URLSearchParams[];
  /** Token requests refused (wrong verifier, reused code, ...), with the OAuth error. */
  readonly tokenErrors: string[];
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string;
  user: JWTPayload;
  misbehave: LoginIssuerMisbehaviour;
}

const b64url = (b: Buffer): string => b.toString('base64url');

async function readBody(req: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startLoginIssuer(tlsDir: string, o: { clientId?: string; redirectUris?: () => string[] } = {}): Promise<LoginIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const rogue = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'login-k1', alg: 'RS256', use: 'sig' };
  const clientId = o.clientId ?? 'fedmesh-dashboard';
  const grants = new Map<string, Grant>();
  const authorizeRequests: URLSearchParams[] = [];
  const tokenRequests: URLSearchParams[] = [];
  const tokenErrors: string[] = [];
  let next: LoginIssuerMisbehaviour = {};
  let base = '';
  const issuerOf = (): string => `${base}/realms/research`;

  const server: Server = createServer({ key: readFileSync(join(tlsDir, 'coordinator.key')), cert: readFileSync(join(tlsDir, 'coordinator.crt')) }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      const oauthError = (error: string): void => {
        tokenErrors.push(error);
        json(400, { error });
      };
      if (url.pathname === '/realms/research/.well-known/openid-configuration') {
        return json(200, {
          issuer: issuerOf(),
          authorization_endpoint: `${issuerOf()}/authorize`,
          token_endpoint: `${issuerOf()}/token`,
          jwks_uri: `${issuerOf()}/jwks.json`,
          end_session_endpoint: `${issuerOf()}/logout`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          id_token_signing_alg_values_supported: ['RS256'],
          subject_types_supported: ['public'],
        });
      }
      if (url.pathname === '/realms/research/jwks.json') return json(200, { keys: [jwk] });
      if (url.pathname === '/realms/research/authorize') {
        const q = url.searchParams;
        authorizeRequests.push(q);
        const redirect = q.get('redirect_uri') ?? '';
        // An authorization server never redirects to an unregistered URI (RFC 6749 §3.1.2.4).
        if (q.get('client_id') !== clientId || (o.redirectUris && !o.redirectUris().includes(redirect))) return json(400, { error: 'invalid_request' });
        if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !q.get('state') || !q.get('nonce')) return json(400, { error: 'invalid_request' });
        const code = b64url(Buffer.from(crypto.getRandomValues(new Uint8Array(24))));
        const m = next;
        next = {};
        grants.set(code, { clientId, redirectUri: redirect, challenge: q.get('code_challenge')!, nonce: q.get('nonce')!, user: { ...issuer.user }, misbehave: m });
        const to = new URL(redirect);
        to.searchParams.set('code', code);
        to.searchParams.set('state', m.state ?? q.get('state')!);
        res.writeHead(302, { location: to.href });
        return res.end();
      }
      if (url.pathname === '/realms/research/token' && req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        tokenRequests.push(form);
        const code = form.get('code') ?? '';
        const g = grants.get(code);
        grants.delete(code);
        if (form.get('grant_type') !== 'authorization_code' || !g) return oauthError('invalid_grant');
        if (form.get('client_id') !== g.clientId || form.get('redirect_uri') !== g.redirectUri) return oauthError('invalid_grant');
        const verifier = form.get('code_verifier') ?? '';
        if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || b64url(createHash('sha256').update(verifier).digest()) !== g.challenge) return oauthError('invalid_grant');
        const now = Math.floor(Date.now() / 1000);
        const m = g.misbehave;
        const iat = m.expiredSecAgo !== undefined ? now - m.expiredSecAgo - 300 : now;
        const idToken = await new SignJWT({ ...g.user, nonce: m.nonce ?? g.nonce })
          .setProtectedHeader({ alg: 'RS256', kid: 'login-k1' })
          .setIssuer(m.otherIssuer ? 'https://other-issuer.example/realms/research' : issuerOf())
          .setAudience(m.audience ?? g.clientId)
          .setIssuedAt(iat)
          .setExpirationTime(m.expiredSecAgo !== undefined ? now - m.expiredSecAgo : now + 300)
          .sign(m.otherIssuer ? rogue.privateKey : privateKey);
        return json(200, { access_token: b64url(Buffer.from(crypto.getRandomValues(new Uint8Array(24)))), token_type: 'Bearer', expires_in: 300, id_token: idToken });
      }
      if (url.pathname === '/realms/research/logout') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('signed out at the issuer');
      }
      res.writeHead(404);
      res.end();
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://localhost:${(server.address() as { port: number }).port}`;
  const issuer: LoginIssuer = {
    issuer: issuerOf(),
    clientId,
    jwksUrl: `${issuerOf()}/jwks.json`,
    ca: readFileSync(join(tlsDir, 'ca.crt')),
    user: { sub: 'oidc-alice', org: 'org-x', roles: ['researcher'], purposes: ['HRESCH'], projects: ['P-17'] },
    misbehave(m) {
      next = m;
    },
    authorizeRequests,
    tokenRequests,
    tokenErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}

