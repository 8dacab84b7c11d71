/**
 * A test OpenID Connect issuer: signing keys made with jose, the public half served as a JWKS over HTTPS (with the
 * mesh's openssl-made coordinator certificate), and tokens signed on demand. Start and stop it in the test.
 */
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type CryptoKey } from 'jose';

export interface TestIssuer {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The CA that signed the JWKS server's certificate. */
  ca: Buffer;
  /** The published signing key, as the JWKS carries it (for the HS256-with-public-key attack). */
  publicJwk: Record<string, unknown>;
  publicKey: CryptoKey;
  /** How often the JWKS was fetched. */
  fetches(): number;
  /** A token signed with the published key; `claims` override the defaults, `options` the header and times. */
  sign(claims?: JWTPayload, options?: { key?: CryptoKey; kid?: string; alg?: string; expiresInSec?: number; notBeforeSec?: number }): Promise<string>;
  /** A key pair that is not in the JWKS. */
  otherKey(): Promise<CryptoKey>;
  close(): Promise<void>;
}

export async function startTestIssuer(tlsDir: string): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server: Server = createServer({ key: readFileSync(join(tlsDir, 'coordinator.key')), cert: readFileSync(join(tlsDir, 'coordinator.crt')) }, (req, res) => {
    if (req.url === '/jwks.json') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const issuer = `https://localhost:${port}/realms/research`;
  const audience = 'fedmesh-coordinator';
  return {
    issuer,
    audience,
    jwksUrl: `https://localhost:${port}/jwks.json`,
    ca: readFileSync(join(tlsDir, 'ca.crt')),
    publicJwk,
    publicKey,
    fetches: () => fetches,
    async sign(claims = {}, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ sub: 'oidc-alice', org: 'org-x', roles: ['researcher'], purposes: ['HRESCH'], projects: ['P-17'], ...claims })
        .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'k1' })
        .setIssuer(typeof claims.iss === 'string' ? claims.iss : issuer)
        .setAudience(claims.aud ?? audience)
        .setIssuedAt(now)
        .setExpirationTime(now + (o.expiresInSec ?? 300));
      if (o.notBeforeSec !== undefined) jwt.setNotBefore(now + o.notBeforeSec);
      return jwt.sign(o.key ?? privateKey);
    },
    async otherKey() {
      return (await generateKeyPair('RS256')).privateKey;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
