/**
 * Secure sums over the statistics vector, the parts both sides derive alike from public information (layout,
 * privacy mode, participants): the phases of a round, the ring and vector plan, the HE parameters, the Shamir
 * threshold and the fewest contributors a release may rest on. The coordinator's driver is
 * coordinator/rounds/secure-round.ts, the agent's node-agent/tasks/kind-secure-phase.ts; they use the SecAgg
 * state machines (algorithms/secagg) and the BFV pool (common/he), which the built-in kinds' HE path shares.
 *
 * - **secagg** (Bonawitz et al. 2017): each round of the kind is one fresh protocol run — advertise (fresh X25519
 *   keys, signed with the agent's certificate-attested identity key) → share (Shamir shares of the mask seeds) →
 *   mask (the agent's vector plus pairwise and self masks, each entry one integer of its 32-bit limbs that carries
 *   from limb to limb: `secAggElements`) → unmask. Fresh keys every round: masks never
 *   repeat across rounds, and a dropout in one round does not leak the next round's vector.
 * - **he** (BFV): the researcher cannot stay online between the rounds of an iterative model, and the coordinator
 *   must read each round's sum to choose the next round's input, so the key holder is one participating agent (the
 *   first by name): it makes one key pair per job and vector plan, signs the public key with its attested identity
 *   key, every agent encrypts its vector under it after checking that signature (so the coordinator cannot swap in
 *   a key of its own), the coordinator adds the ciphertexts in its pool (it never holds a secret key), and the key
 *   holder decrypts only the aggregate, once per round (its answer is cached per job, round and phase). The key
 *   holder adds the ciphertexts itself: every agent signs the SHA-256 of its ciphertexts for the job and round with
 *   its identity key (`heContributionMessage`), the coordinator relays each contribution with its signature, and the
 *   key holder sums only contributions that verify, from distinct participants, at least as many as the job's
 *   guarantee needs — so within a round a coordinator cannot have one agent's (or an earlier round's) vector
 *   decrypted as the sum. Both signed messages bind the round's participant list. Across rounds, a coordinator
 *   that repeats an input over other subsets could solve the sums (secagg too): outside the curious-coordinator
 *   threat model, and stated in the README.
 *   Key reuse across rounds is sound: BFV is IND-CPA under a public key used for many encryptions, and the key
 *   holder never decrypts anything but the one aggregate per round. Because the key holder sees the exact sum, `he`
 *   is refused with central-dp (use secagg, or distributed-dp); in the other modes the sum it sees is the one
 *   released.
 *
 * Threat model as ARCHITECTURE.md: agents honest-but-curious, coordinator curious; collusion of the coordinator
 * with the key holder (he) or with more than `tolerated` agents (distributed-dp) is out of scope.
 */
import { selectHeParameters, type HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { heLimbRing, secAggCarryRing } from '../secure/index.js';
import type { KindJobCommon } from './kind.js';
import { toleratedAgents } from './agent-noise-modes.js';
import type { BlockNoise } from './noise-calibration.js';
import { planSecureVector, type SecureVectorPlan } from './secure-vector.js';
import type { StatLayout } from './stat-layout.js';

/** Fewest participants of a secure sum: with two, the sum tells each the other's vector. */
export const MIN_SECURE_PARTICIPANTS = 3;

/** The phases of one round of a secure sum, in order (plain sums have one, unnamed). */
export const SECURE_PHASES = { secagg: ['advertise', 'share', 'mask', 'unmask'], he: ['he-keys', 'he-encrypt', 'he-decrypt'] } as const;
export type SecurePhase = (typeof SECURE_PHASES)['secagg'][number] | (typeof SECURE_PHASES)['he'][number];

const PHASE_SLOT: Readonly<Record<SecurePhase, number>> = { advertise: 1, share: 2, mask: 3, unmask: 4, 'he-keys': 5, 'he-encrypt': 6, 'he-decrypt': 7 };
/** Phase slots per round in an agent's answer store. */
export const PHASE_SLOTS = 8;

/** The key an agent stores a phase's one answer under (round and phase; one protocol step, answered once). */
export function phaseAnswerSlot(round: number, phase: SecurePhase | undefined): number {
  return phase === undefined ? round : round * PHASE_SLOTS + PHASE_SLOT[phase];
}

export function isSecurePhase(x: unknown): x is SecurePhase {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(PHASE_SLOT, x);
}

/**
 * What a secure sum needs that is checked at submission from the job alone.
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function checkSecureCombination(job: KindJobCommon): void {
  if (job.privacy.mode === 'distributed-dp' && job.secure === 'plain') {
    throw new FedmeshError('INVALID_JOB', 'privacy.mode: distributed-dp needs a secure sum (secure: secagg or he): with plain sums the coordinator would see each agent\'s vector with only its share of the noise', { field: 'privacy.mode' });
  }
  if (job.secure === 'he' && job.privacy.mode === 'central-dp') {
    // The key holder decrypts the exact sum; under central-dp only the coordinator (the trusted curator) may see it.
    throw new FedmeshError('INVALID_JOB', 'secure: he with central-dp would show the exact sum to the key-holding agent before the coordinator adds the noise; use secure secagg, or privacy.mode distributed-dp with he', { field: 'secure' });
  }
  if (job.secure !== 'plain' && job.dropout !== 'fail' && job.minAgents < MIN_SECURE_PARTICIPANTS) {
    const field = job.minAgentsField ?? 'quorum';
    throw new FedmeshError('INVALID_JOB', `${field}: a secure sum needs at least ${MIN_SECURE_PARTICIPANTS} contributors`, { field });
  }
}

/** Shamir threshold t and the fewest contributors a secure round's sum may rest on, for n participants. */
export function secureQuorum(job: KindJobCommon, agents: number): { threshold: number; requiredContributors: number } {
  if (agents < MIN_SECURE_PARTICIPANTS) {
    throw new FedmeshError('FAILED_PRECONDITION', `secure: a ${job.secure} sum needs at least ${MIN_SECURE_PARTICIPANTS} agents (with two, the sum reveals the other's vector); ${agents} take part`, { field: 'secure' });
  }
  const threshold = job.secureThreshold ?? Math.floor(agents / 2) + 1;
  if (!(Number.isInteger(threshold) && threshold > agents / 2 && threshold <= agents)) {
    throw new FedmeshError('INVALID_JOB', `secureThreshold: must satisfy n/2 < t <= n for n = ${agents} agents, got ${threshold}`, { field: 'secureThreshold' });
  }
  const quorum = job.dropout === 'fail' ? agents : Math.max(job.minAgents, 1);
  const honest = job.privacy.mode === 'distributed-dp' ? agents - toleratedAgents(job, agents) : 0;
  return { threshold, requiredContributors: Math.max(threshold, quorum, honest) };
}

/** The SecAgg vector plan of a round for n participants (Z_2^32 limbs). @throws FedmeshError INVALID_JOB */
export function secAggVectorPlan(job: KindJobCommon, layout: StatLayout, noise: readonly BlockNoise[], agents: number): SecureVectorPlan {
  return planSecureVector(layout, noise, secAggCarryRing(), agents, job.kind);
}

/** Digit sizes tried for HE slots; the plan with the fewest ciphertext bytes wins (as the researcher client does). */
const HE_DIGIT_BITS = [16, 20, 24, 28, 32, 36, 40];

/**
 * The HE vector plan and BFV parameters of a round for n participants: deterministic, so the key holder, every
 * encrypting agent and the coordinator's pool agree without sending the plan.
 * @throws FedmeshError INVALID_JOB when no parameters hold the sum
 */
export function heVectorPlan(job: KindJobCommon, layout: StatLayout, noise: readonly BlockNoise[], agents: number): { vector: SecureVectorPlan; he: HePlan } {
  let best: { vector: SecureVectorPlan; he: HePlan; bytes: number } | undefined;
  let last: unknown;
  for (const b of HE_DIGIT_BITS) {
    try {
      const vector = planSecureVector(layout, noise, heLimbRing(b), agents, job.kind);
      const he = selectHeParameters({ vectorLength: vector.vectorLength, valueBounds: { min: 0n, max: (1n << BigInt(b)) - 1n }, agents });
      const bytes = he.ciphertextCount * he.ciphertextByteSize;
      if (!best || bytes < best.bytes) best = { vector, he, bytes };
    } catch (e) {
      last = e;
    }
  }
  if (!best) throw last instanceof FedmeshError ? last : new FedmeshError('INVALID_JOB', `secure: no BFV parameters hold this ${job.kind} round's sum: ${(last as Error)?.message ?? 'unknown'}`, { field: 'secure' });
  return { vector: best.vector, he: best.he };
}

/**
 * The bytes the HE key holder signs: the job, its compiled hash, the round, the plan's size, the digest of the
 * round's participant list (`participantsDigest`: ids and identity keys, sorted) and the public key
 * (domain-separated). An agent given another participant list than the key holder's refuses to encrypt.
 */
export function heKeyMessage(jobId: string, compiledHash: string, round: number, vectorLength: number, participants: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return concatBytes(new TextEncoder().encode(`fedmesh/kind-he-key/v3\n${jobId}\n${compiledHash}\n${round}\n${vectorLength}\n`), participants, publicKey);
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The canonical bytes of a round's participant list (each id and identity key, sorted by id), which the signed HE
 * messages carry (hashed by the caller): every phase of a round must run over one list, so that the noise each
 * agent sized for n participants is the noise the key holder's quorum for n assumes (red team).
 */
export function participantsBytes(participants: readonly { id: string; identityPublicKey: Uint8Array }[]): Uint8Array {
  const sorted = [...participants].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return new TextEncoder().encode(sorted.map((p) => `${p.id}\n${Buffer.from(p.identityPublicKey).toString('hex')}\n`).join(''));
}

/**
 * The bytes an agent signs over its HE contribution to one round: the job, its compiled hash, the round, the digest
 * of the participant list it was given and the SHA-256 of its ciphertexts (domain-separated). The key holder sums only contributions whose signatures verify
 * against the participants' attested identity keys, so the coordinator cannot have it decrypt one agent's vector
 * (or an earlier round's) as if it were the sum.
 */
export function heContributionMessage(jobId: string, compiledHash: string, round: number, participants: Uint8Array, ciphertextsSha256: Uint8Array): Uint8Array {
  return concatBytes(new TextEncoder().encode(`fedmesh/kind-he-contribution/v2\n${jobId}\n${compiledHash}\n${round}\n`), participants, ciphertextsSha256);
}

/**
 * The SecAgg protocol run id of one round of a job. It carries the compiled job's hash, and the run id is bound into
 * everything the protocol derives (the signed advertisement, the share-encryption keys and associated data, the
 * pairwise mask seeds and the mask PRG), so an agent that uses the hash it verified itself cannot complete a sum with
 * agents that were given another spec (other salts, ε, bounds): their advertisements do not verify for it and their
 * masks would not cancel. The sum fails closed instead of combining vectors computed under different plans.
 */
export function secAggRunId(jobId: string, round: number, compiledHash: string): string {
  return `${jobId}/kind-round-${round}/spec-${compiledHash}`;
}
