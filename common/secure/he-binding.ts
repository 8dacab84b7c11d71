/**
 * The original kinds' HE sum bound to the spec every agent verified (issue 15), as their SecAgg sum is
 * (`<job>/secagg/<spec sha256>`, whose id enters every mask so different specs cannot add up). HE contributions never
 * meet at the agents, so the binding is made checkable instead:
 *
 * 1. The coordinator's HE task carries the round id `<job>/he/<spec sha256>` of the spec it stored; each agent refuses
 *    an id that differs from the spec it parsed itself (a coordinator that hands one agent another spec without
 *    adjusting the id fails here).
 * 2. Each agent signs `(round id, SHA-256 of its ciphertexts)` with its long-term Ed25519 identity key — the key its
 *    mTLS certificate vouches for (identity-attestation.ts) — and returns the signature with its ciphertexts. A
 *    coordinator that hands an agent another spec AND the id that matches it gets a signature over another round id:
 *    the coordinator's round refuses that contribution, and the researcher's client, which recomputes the round id
 *    from the spec it holds and verifies each contributor's signature against its certificate (it has the mesh CA),
 *    refuses the whole sum. The coordinator cannot forge a signature: it holds no agent's identity key.
 *
 * What this does not give: integrity of the sum itself (a coordinator holding the public key can always add an
 * encryption of anything; HE protects confidentiality, and a malicious coordinator is out of scope for integrity).
 */
import { createHash } from 'node:crypto';
import { createNodeSecAggCrypto } from '../crypto/index.js';
import { FedmeshError } from '../errors.js';
import { specSha256 } from '../job/index.js';
import { verifyAttestation, type IdentityAttestation } from './identity-attestation.js';

/** What an HE round task carries: the round id the coordinator computed from the stored spec. */
export interface HeRoundStart {
  roundId: string;
}

/** One agent's signed statement: it contributed these ciphertexts to this round id. */
export interface HeBinding {
  agent: string;
  roundId: string;
  /** SHA-256 (hex) of the agent's ciphertext bytes, as sent. */
  ciphertextSha256: string;
  /** Ed25519 signature (base64) by the agent's identity key over heBindingMessage. */
  signature: string;
}

const CONTEXT = 'fedmesh/he-round-binding/v1|';
const crypto = createNodeSecAggCrypto();

/** The round id of an HE job: its id and the SHA-256 of the canonical JSON of its spec. */
export function heRoundId(jobId: string, spec: unknown): string {
  return `${jobId}/he/${specSha256(spec)}`;
}

export function heBindingMessage(agent: string, roundId: string, ciphertextSha256: string): Uint8Array {
  return new TextEncoder().encode(`${CONTEXT}${agent}|${roundId}|${ciphertextSha256}`);
}

/** The agent's side: signs its contribution (the ciphertext bytes it sends) for `roundId`. */
export function signHeBinding(agent: string, identityPrivateKey: Uint8Array, roundId: string, ciphertexts: Uint8Array): HeBinding {
  const ciphertextSha256 = createHash('sha256').update(ciphertexts).digest('hex');
  const signature = Buffer.from(crypto.ed25519Sign(identityPrivateKey, heBindingMessage(agent, roundId, ciphertextSha256))).toString('base64');
  return { agent, roundId, ciphertextSha256, signature };
}

/**
 * Checks one agent's binding: it names `expectedRoundId`, covers exactly `ciphertexts` (when given: the coordinator
 * has them, the researcher only has the sum) and is signed by `identityPublicKey`.
 * @throws FedmeshError FAILED_PRECONDITION naming the spec-hash mismatch or the bad signature
 */
export function checkHeBinding(b: unknown, agent: string, identityPublicKey: Uint8Array, expectedRoundId: string, ciphertexts?: Uint8Array): void {
  const x = b as Partial<HeBinding> | null;
  if (!x || typeof x !== 'object' || x.agent !== agent || typeof x.roundId !== 'string' || typeof x.ciphertextSha256 !== 'string' || typeof x.signature !== 'string') {
    throw new FedmeshError('FAILED_PRECONDITION', `he: agent ${agent} sent no binding of its contribution to this job's spec`, { field: 'he' });
  }
  if (x.roundId !== expectedRoundId) {
    throw new FedmeshError('FAILED_PRECONDITION', `he: spec hash mismatch: agent ${agent} encrypted for round ${x.roundId.slice(0, 200)}, this job's spec gives ${expectedRoundId} — the agents were not given the same spec, so their contributions must not be added`, { field: 'he' });
  }
  if (ciphertexts && createHash('sha256').update(ciphertexts).digest('hex') !== x.ciphertextSha256) {
    throw new FedmeshError('FAILED_PRECONDITION', `he: agent ${agent}'s binding covers other ciphertexts than those it sent`, { field: 'he' });
  }
  const sig = new Uint8Array(Buffer.from(x.signature, 'base64'));
  if (!crypto.ed25519Verify(identityPublicKey, heBindingMessage(agent, x.roundId, x.ciphertextSha256), sig)) {
    throw new FedmeshError('FAILED_PRECONDITION', `he: agent ${agent}'s binding is not signed by its identity key`, { field: 'he' });
  }
}

/**
 * The researcher's side: every contributor's binding names the round id of the spec the researcher holds and is
 * signed by an identity key that the agent's mTLS certificate vouches for under the mesh CA `caPem`.
 * @param bindings what the coordinator relayed (summary.he.bindings), with each contributor's attestation
 * @throws FedmeshError FAILED_PRECONDITION (spec hash mismatch, missing or bad binding) or UNAUTHENTICATED (attestation)
 */
export function verifyHeBindings(bindings: unknown, contributors: number, jobId: string, spec: unknown, caPem: Buffer | string): void {
  const list = Array.isArray(bindings) ? (bindings as { binding?: unknown; attestation?: { identityPublicKey?: string; signature?: string; certificatePem?: string } }[]) : [];
  if (list.length !== contributors) throw new FedmeshError('FAILED_PRECONDITION', `he: the coordinator relayed ${list.length} bindings for ${contributors} contributors`, { field: 'he' });
  const expected = heRoundId(jobId, spec);
  const seen = new Set<string>();
  for (const item of list) {
    const agent = String((item.binding as { agent?: unknown } | undefined)?.agent ?? '');
    if (seen.has(agent)) throw new FedmeshError('FAILED_PRECONDITION', `he: two bindings for agent ${agent.slice(0, 100)}`, { field: 'he' });
    seen.add(agent);
    const a = item.attestation;
    const att: IdentityAttestation = { identityPublicKey: new Uint8Array(Buffer.from(String(a?.identityPublicKey ?? ''), 'base64')), signature: new Uint8Array(Buffer.from(String(a?.signature ?? ''), 'base64')), certificatePem: String(a?.certificatePem ?? '') };
    checkHeBinding(item.binding, agent, verifyAttestation(agent, att, caPem), expected);
  }
}

/** An attestation in JSON-safe form (base64 keys), as the coordinator relays it with a binding. */
export function attestationToJson(a: IdentityAttestation): { identityPublicKey: string; signature: string; certificatePem: string } {
  return { identityPublicKey: Buffer.from(a.identityPublicKey).toString('base64'), signature: Buffer.from(a.signature).toString('base64'), certificatePem: a.certificatePem };
}
