/**
 * Who is calling the dashboard, established exactly as for the gRPC API: a bearer token (verified OpenID Connect,
 * when the coordinator accepts them) decides the identity; otherwise the TLS client certificate, which must chain
 * to the mesh CA (the server asks for it but lets the handshake finish without one, so a token-only caller can
 * connect — the check that it verified is here), with CN = name and OU = researcher or admin.
 */
import type { TLSSocket } from 'node:tls';
import { FedmeshError } from '../common/errors.js';
import type { OidcVerifier } from '../coordinator/identity/index.js';
import type { Principal } from '../coordinator/principal.js';

export interface DashboardAuthOptions {
  /** Plaintext and no authentication (loopback development only): every caller is `insecure-dev`. */
  insecure: boolean;
  oidc?: OidcVerifier | undefined;
}

/** What the transport knows of a request: its Authorization header and, over TLS, the socket. */
export interface RequestIdentity {
  authorization: string | undefined;
  socket: Partial<Pick<TLSSocket, 'authorized' | 'getPeerCertificate'>> | undefined;
}

const MAX_AUTHORIZATION_CHARS = 65_536 + 7;

/** @throws FedmeshError UNAUTHENTICATED saying why (never echoing a token) */
export async function authenticateRequest(req: RequestIdentity, auth: DashboardAuthOptions): Promise<Principal> {
  const header = req.authorization;
  if (header !== undefined && header !== '') {
    if (header.length > MAX_AUTHORIZATION_CHARS) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: authorization header too long');
    const m = /^Bearer +(\S+)$/i.exec(header);
    if (!m) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: the authorization header must be "Bearer <token>"');
    if (!auth.oidc) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: this coordinator does not accept bearer tokens (it is not configured with --oidc-issuer)');
    return auth.oidc.verify(m[1]!);
  }
  if (auth.insecure) return { name: 'insecure-dev', isAdmin: false, authenticatedBy: 'insecure' };
  const socket = req.socket;
  const cert = socket?.authorized === true ? socket.getPeerCertificate?.() : undefined;
  const subject = cert?.subject as Record<string, string | string[] | undefined> | undefined;
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const name = first(subject?.CN);
  const role = first(subject?.OU);
  if (!name || (role !== 'researcher' && role !== 'admin')) {
    throw new FedmeshError('UNAUTHENTICATED', `${auth.oidc ? 'a researcher or administrator client certificate, or a bearer token,' : 'a researcher or administrator client certificate'} issued by the mesh CA is required`);
  }
  return { name, isAdmin: role === 'admin', authenticatedBy: 'certificate', attributes: { roles: [role], purposes: [], projects: [] } };
}
