import * as grpc from '@grpc/grpc-js';
import type { TlsMaterial } from '../tls.js';

export function serverCredentials(tls: TlsMaterial | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  // checkClientCertificate = true: mutual TLS; a client without a certificate from our CA is refused.
  return grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
}

export function clientCredentials(tls: TlsMaterial | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
}

export interface PeerIdentity {
  /** Certificate common name, or undefined without TLS. */
  name: string | undefined;
  /** Certificate organisational unit: the role the CA issued it for. */
  role: string | undefined;
  secure: boolean;
}

/** Reads the peer's certificate identity from a server call (mTLS). */
interface AuthContextLike {
  transportSecurityType?: string;
  sslPeerCertificate?: { subject?: unknown };
}

export function peerIdentity(call: { getAuthContext?: () => AuthContextLike | null }): PeerIdentity {
  const ctx = call.getAuthContext?.();
  const cert = ctx?.sslPeerCertificate;
  if (!cert || !cert.subject) return { name: undefined, role: undefined, secure: ctx?.transportSecurityType === 'ssl' };
  const subject = cert.subject as unknown as Record<string, string | string[] | undefined>;
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  return { name: first(subject.CN), role: first(subject.OU), secure: true };
}
