import * as grpc from '@grpc/grpc-js';
import type { TlsMaterial } from '../tls.js';

/**
 * @param clientCertificate `required`: mutual TLS, a client without a certificate from our CA is refused at the
 * handshake. `optional`: a certificate is asked for but not required (callers authenticate per call, e.g. with a
 * bearer token); a certificate that does not verify against our CA is ignored — grpc-js reports an identity only
 * for an authorised TLS peer — so it can never be mistaken for an agent or a researcher.
 */
export function serverCredentials(tls: TlsMaterial | undefined, clientCertificate: 'required' | 'optional' = 'required'): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (clientCertificate === 'required') return grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
  // Listeners are told on the next microtask: grpc-js registers its watcher only after adding them, and a
  // synchronous answer would leave the port without a secure context (every handshake dropped).
  const provider: grpc.experimental.CertificateProvider = {
    addCaCertificateListener: (l) => queueMicrotask(() => l({ caCertificate: tls.ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) => queueMicrotask(() => l({ certificate: tls.cert, privateKey: tls.key })),
    removeIdentityCertificateListener: () => undefined,
  };
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/**
 * A researcher's channel authenticated by a bearer token (OpenID Connect) instead of a client certificate: TLS
 * verifying the coordinator against `ca`, and the token sent as `authorization: Bearer …` on every call.
 */
export function bearerCredentials(ca: Buffer, token: () => string): grpc.ChannelCredentials {
  const perCall = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token()}`);
    callback(null, md);
  });
  return grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(ca), perCall);
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

/** A host a plaintext (`--insecure`) listener may bind: loopback only (the gRPC port and the dashboard alike). */
export function isLoopbackHost(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/.test(host);
}
