/**
 * Who a researcher-API call comes from: a bearer token in the `authorization` metadata (verified OpenID Connect,
 * when the coordinator is configured for it) or else the mTLS client certificate (CN = name, OU = role). A token,
 * when present, decides the identity; the certificate then only authenticates the channel.
 */
import type * as grpc from '@grpc/grpc-js';
import { FedmeshError } from '../../common/errors.js';
import { peerIdentity } from '../../common/transport/index.js';
import type { OidcVerifier } from '../identity/index.js';
import type { Principal } from '../principal.js';

export interface CallerAuth {
  insecure: boolean;
  /** Verifies bearer tokens; without it a call carrying one is refused. */
  oidc?: OidcVerifier | undefined;
}

type AnyCall = { getAuthContext?: () => unknown; metadata?: grpc.Metadata };

/** Longest `authorization` value read at all; the verifier has its own, smaller, bound on the token. */
const MAX_AUTHORIZATION_CHARS = 65_536 + 7;

function bearerOf(call: AnyCall): string | undefined {
  const values = call.metadata?.get('authorization') ?? [];
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: more than one authorization header');
  const v = values[0];
  if (typeof v !== 'string' || v.length > MAX_AUTHORIZATION_CHARS) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: authorization header too long');
  const m = /^Bearer +(\S+)$/i.exec(v);
  if (!m) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: the authorization header must be "Bearer <token>"');
  return m[1]!;
}

/** @throws FedmeshError UNAUTHENTICATED saying why (never echoing a token) */
export async function authenticateCaller(call: AnyCall, auth: CallerAuth): Promise<Principal> {
  const token = bearerOf(call);
  if (token !== undefined) {
    if (!auth.oidc) throw new FedmeshError('UNAUTHENTICATED', 'bearer token refused: this coordinator does not accept bearer tokens (it is not configured with --oidc-issuer)');
    return auth.oidc.verify(token);
  }
  if (auth.insecure) return { name: 'insecure-dev', isAdmin: false, authenticatedBy: 'insecure' };
  const id = peerIdentity(call as never);
  if (!id.name || (id.role !== 'researcher' && id.role !== 'admin')) {
    const how = auth.oidc ? 'a researcher or administrator client certificate, or a bearer token,' : 'a researcher or administrator client certificate';
    throw new FedmeshError('UNAUTHENTICATED', `${how} is required for this call`, { details: { role: id.role ?? 'none' } });
  }
  return { name: id.name, isAdmin: id.role === 'admin', authenticatedBy: 'certificate', attributes: { roles: [id.role], purposes: [], projects: [] } };
}
