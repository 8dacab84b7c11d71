/**
 * Agents' long-term Ed25519 identity keys, vouched for by their mTLS certificates. At registration an agent sends
 * its identity public key signed with its TLS client key, with its certificate. The coordinator only relays this;
 * each PEER verifies that the certificate chains to the mesh CA, that it was issued to an agent whose CN is the
 * participant id, and the signature — only then does it pin the key. A coordinator that substitutes a key cannot
 * sign for it: it does not hold the agent's TLS private key.
 */
import { sign, verify, X509Certificate, createPrivateKey } from 'node:crypto';
import { FedmeshError } from '../errors.js';

export interface IdentityAttestation {
  /** 32 raw bytes (Ed25519). */
  readonly identityPublicKey: Uint8Array;
  /** Signature over attestationMessage(agent, key) by the agent's mTLS certificate key. */
  readonly signature: Uint8Array;
  /** The agent's mTLS certificate (PEM). */
  readonly certificatePem: string;
}

const CONTEXT = 'fedmesh/secagg-identity-key/v1|';

export function attestationMessage(agent: string, identityPublicKey: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`${CONTEXT}${agent}|`);
  const out = new Uint8Array(head.length + identityPublicKey.length);
  out.set(head, 0);
  out.set(identityPublicKey, head.length);
  return out;
}

function digestFor(keyType: string | undefined): string | null {
  return keyType === 'ed25519' || keyType === 'ed448' ? null : 'sha256';
}

/** Signs the identity key with the TLS client key (PEM) of the certificate `certificatePem`. */
export function createAttestation(agent: string, identityPublicKey: Uint8Array, tls: { cert: Buffer | string; key: Buffer | string }): IdentityAttestation {
  const key = createPrivateKey(tls.key);
  const signature = new Uint8Array(sign(digestFor(key.asymmetricKeyType), attestationMessage(agent, identityPublicKey), key));
  return { identityPublicKey: Uint8Array.from(identityPublicKey), signature, certificatePem: tls.cert.toString() };
}

function subjectField(subject: string, name: string): string | undefined {
  for (const line of subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && line.slice(0, i) === name) return line.slice(i + 1);
  }
  return undefined;
}

/**
 * Verifies an attestation relayed for participant `agent` against the mesh CA.
 * @returns the identity public key to pin
 * @throws FedmeshError UNAUTHENTICATED saying what failed
 */
export function verifyAttestation(agent: string, att: IdentityAttestation, caPem: Buffer | string, nowMs = Date.now()): Uint8Array {
  const fail = (why: string): never => {
    throw new FedmeshError('UNAUTHENTICATED', `refusing the identity key relayed for '${agent}': ${why}`);
  };
  if (!(att.identityPublicKey instanceof Uint8Array) || att.identityPublicKey.length !== 32) fail('not a 32-byte Ed25519 key');
  if (!(att.signature instanceof Uint8Array) || typeof att.certificatePem !== 'string') fail('no signature or certificate');
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(att.certificatePem);
    ca = new X509Certificate(caPem);
  } catch {
    return fail('the certificate does not parse');
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) fail('its certificate does not chain to the mesh CA');
  if (nowMs < Date.parse(cert.validFrom) || nowMs > Date.parse(cert.validTo)) fail('its certificate is not valid now');
  if (subjectField(cert.subject, 'CN') !== agent) fail(`its certificate is issued to '${subjectField(cert.subject, 'CN') ?? '?'}', not to '${agent}'`);
  if (subjectField(cert.subject, 'OU') !== 'agent') fail('its certificate is not an agent certificate');
  let ok: boolean;
  try {
    ok = verify(digestFor(cert.publicKey.asymmetricKeyType), attestationMessage(agent, att.identityPublicKey), cert.publicKey, att.signature);
  } catch {
    ok = false;
  }
  if (!ok) fail("the key is not signed by the agent's certificate key (substituted or re-signed)");
  return Uint8Array.from(att.identityPublicKey);
}
