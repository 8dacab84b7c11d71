/**
 * The agent's side of a secure sum over a registry kind's statistics vector (protocol facts in
 * common/kinds/secure-sum.ts, coordinator side in coordinator/rounds/secure-round.ts). Everything checked here is
 * public: the participants' identity keys against their certificates (this agent's CA), the threshold and the
 * fewest contributors the job implies for n participants, the HE key holder's signature on its public key. The
 * vector is computed (local step → privacy mode's noise at the agent → fixed-point grid) only after those checks,
 * in the first phase of the round, and is masked (SecAgg) or encrypted (HE) before it leaves.
 *
 * The task runner calls `handle` at most once per (job, round, phase): replays get the stored answer, so a job's
 * round is one protocol run with one noise draw. Protocol state (SecAgg clients, HE key pairs) is in memory only and
 * dropped at the round's deadline (SecAgg) or when the job has been idle for 30 minutes (HE keys); an agent that
 * restarts mid-round fails that round rather than start a second run.
 */
import { SecAggClient, type AdvertisedKeysBroadcast, type SecAggParticipant, type ShareKeysRelay, type UnmaskRequest } from '../../algorithms/secagg/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { createNodeSecAggCrypto, type IdentityKeyPair } from '../../common/crypto/index.js';
import { FedmeshError } from '../../common/errors.js';
import { refuseParticipantsOutside } from './job-agents.js';
import { decryptVector, generateHeKeyPair, type HeKeyPair, type HePool } from '../../common/he/index.js';
import { createHash } from 'node:crypto';
import {
  decodeSecureVector,
  encodeSecureVector,
  heContributionMessage,
  heKeyMessage,
  participantsBytes,
  heVectorPlan,
  secAggRunId,
  secAggElements,
  secAggVectorPlan,
  secureQuorum,
  type BlockNoise,
  type CompiledKindJob,
  type PrivacyModeDef,
  type SecurePhase,
  type StatLayout,
  type StatVector,
} from '../../common/kinds/index.js';
import { decodeEnvelope, encodeEnvelope, verifyAttestation, type IdentityAttestation } from '../../common/secure/index.js';
import type { TlsMaterial } from '../../common/tls.js';

export interface KindSecureDeps {
  name: string;
  tls: TlsMaterial | undefined;
  identity: IdentityKeyPair;
  rng: Rng;
  /** The agent's HE pool (encryption). */
  hePool: () => HePool;
}

export interface SecurePhaseRequest {
  jobId: string;
  round: number;
  phase: SecurePhase;
  msg: Uint8Array;
  job: CompiledKindJob;
  layout: StatLayout;
  mode: PrivacyModeDef;
  /** This agent's vector for the round under the noise plan for n participants (noise added, on its grids). */
  computeVector: (noise: readonly BlockNoise[]) => Promise<StatVector>;
}

interface Start {
  runId: string;
  threshold: number;
  deadlineMs: number;
  participants: { id: string; attestation: IdentityAttestation }[];
}

interface Session {
  client: SecAggClient;
  vector: Uint32Array;
  requiredContributors: number;
  timer: NodeJS.Timeout;
}

/** Extra time protocol state outlives its round deadline, for a late phase already on the wire. */
const SESSION_GRACE_MS = 5_000;
const HE_KEYS_IDLE_MS = 30 * 60_000;
const MAX_SESSION_MS = 16 * 60_000;

/** The refusal when a run id is not this agent's: names the two spec hashes (public) so the mismatch is visible. */
function runMismatch(what: string, got: unknown, expected: string): FedmeshError {
  const hashOf = (id: unknown): string => (typeof id === 'string' ? (/\/spec-([0-9a-f]{64})$/.exec(id)?.[1] ?? 'none') : 'none');
  const theirs = hashOf(got);
  const mine = hashOf(expected);
  const why = theirs !== mine ? `spec hash mismatch: it is bound to compiled job ${theirs.slice(0, 16)}…, this agent verified ${mine.slice(0, 16)}… from the spec it was sent` : 'not this job and round';
  return new FedmeshError('FAILED_PRECONDITION', `refusing the secure sum: ${what}: ${why}; the agents of one sum must hold the same compiled job`, { field: 'payload' });
}

export class KindSecurePhases {
  private readonly sessions = new Map<string, Session>();
  private readonly heKeys = new Map<string, { keys: HeKeyPair; timer: NodeJS.Timeout }>();
  private readonly crypto = createNodeSecAggCrypto();

  constructor(private readonly deps: KindSecureDeps) {}

  /** One phase of a secure round; the reply's bytes. @throws FedmeshError naming what is wrong */
  async handle(r: SecurePhaseRequest): Promise<Uint8Array> {
    if (!this.deps.tls) throw new FedmeshError('FAILED_PRECONDITION', 'secure: a secure sum needs mTLS; this agent runs --insecure, so it has no certificate to vouch for its identity key', { field: 'secure' });
    const key = `${r.jobId}#${r.round}`;
    try {
      switch (r.phase) {
        case 'advertise':
          return await this.advertise(r, key);
        case 'share': {
          const broadcast = decodeEnvelope(r.msg, 'share payload') as AdvertisedKeysBroadcast;
          const expected = secAggRunId(r.jobId, r.round, r.job.hash);
          // A peer whose advertisement names another run id was given another spec; say so before the client's check.
          const other = Array.isArray(broadcast?.advertisements) ? broadcast.advertisements.find((a) => a?.roundId !== expected) : undefined;
          if (other) throw runMismatch(`share payload (advertisement of ${String(other.clientId).slice(0, 64)})`, other.roundId, expected);
          return encodeEnvelope(this.session(key, r).client.shareKeys(broadcast));
        }
        case 'mask': {
          const s = this.session(key, r);
          const message = s.client.maskInput(decodeEnvelope(r.msg, 'mask payload') as ShareKeysRelay, s.vector);
          s.vector.fill(0);
          return encodeEnvelope(message);
        }
        case 'unmask': {
          const s = this.session(key, r);
          const request = decodeEnvelope(r.msg, 'unmask payload') as UnmaskRequest;
          if (!Array.isArray(request?.survivorIds) || request.survivorIds.length < s.requiredContributors) {
            throw new FedmeshError('QUORUM_NOT_MET', `refusing to unmask: ${Array.isArray(request?.survivorIds) ? request.survivorIds.length : 0} survivors, the job's guarantee needs at least ${s.requiredContributors}`);
          }
          const message = s.client.unmask(request);
          this.drop(key);
          return encodeEnvelope(message);
        }
        case 'he-keys':
          return await this.heOfferKey(r);
        case 'he-encrypt':
          return await this.heEncrypt(r);
        case 'he-decrypt':
          return await this.heDecrypt(r);
      }
    } catch (e) {
      this.drop(key);
      throw e;
    }
  }

  /** Checks the round start: this job and round, every participant's key against its certificate, this agent in it. */
  private start(r: SecurePhaseRequest, what: string): { start: Start; participants: SecAggParticipant[]; threshold: number; requiredContributors: number } {
    const start = decodeEnvelope(r.msg, what) as Start;
    if (!start || typeof start !== 'object' || typeof start.runId !== 'string' || !Array.isArray(start.participants)) {
      throw new FedmeshError('INVALID_ARGUMENT', `${what}: not the start of a secure round`, { field: 'payload' });
    }
    // The run id must carry the hash this agent compiled from its own spec (checked against the task's hash).
    const expected = secAggRunId(r.jobId, r.round, r.job.hash);
    if (start.runId !== expected) throw runMismatch(what, start.runId, expected);
    const participants: SecAggParticipant[] = start.participants.map((p) => ({ id: String(p.id), identityPublicKey: verifyAttestation(String(p.id), p.attestation, this.deps.tls!.ca) }));
    const me = participants.find((p) => p.id === this.deps.name);
    if (!me || Buffer.compare(Buffer.from(me.identityPublicKey), Buffer.from(this.deps.identity.publicKey)) !== 0) {
      throw new FedmeshError('UNAUTHENTICATED', "refusing the round: this agent's own identity key is missing or altered in the participant list");
    }
    if (new Set(participants.map((p) => p.id)).size !== participants.length) throw new FedmeshError('INVALID_ARGUMENT', `${what}: a participant is listed twice`);
    // A job run on named agents sums over those only: a coordinator cannot bring in another certified agent (whose
    // vector, or its absence, would let two rounds' sums be differenced over other sets of sites).
    refuseParticipantsOutside(r.job.agents, participants);
    const { threshold, requiredContributors } = secureQuorum(r.job, participants.length);
    if (start.threshold !== threshold) throw new FedmeshError('FAILED_PRECONDITION', `refusing the round: the coordinator asked for threshold ${start.threshold}, the job implies ${threshold}`, { field: 'secureThreshold' });
    return { start, participants, threshold, requiredContributors };
  }

  private async advertise(r: SecurePhaseRequest, key: string): Promise<Uint8Array> {
    const { start, participants, threshold, requiredContributors } = this.start(r, 'advertise payload');
    const n = participants.length;
    const noise = r.mode.roundNoise(r.job, r.layout, { agents: n });
    const plan = secAggVectorPlan(r.job, r.layout, noise, n);
    const vector = encodeSecureVector(plan, await r.computeVector(noise), false) as Uint32Array;
    // Fresh X25519 keys for every round: masks never repeat across the rounds of a job.
    const client = new SecAggClient({ config: { roundId: start.runId, threshold, vectorLength: plan.vectorLength, elements: secAggElements(plan), participants }, clientId: this.deps.name, identityPrivateKey: this.deps.identity.privateKey, crypto: this.crypto, rng: this.deps.rng });
    const message = client.advertiseKeys();
    this.drop(key);
    const ttl = Math.max(1_000, Math.min(Number(start.deadlineMs) || 0, Date.now() + MAX_SESSION_MS) - Date.now() + SESSION_GRACE_MS);
    const timer = setTimeout(() => this.drop(key), ttl);
    timer.unref();
    this.sessions.set(key, { client, vector, requiredContributors, timer });
    return encodeEnvelope(message);
  }

  private session(key: string, r: SecurePhaseRequest): Session {
    const s = this.sessions.get(key);
    if (!s) throw new FedmeshError('FAILED_PRECONDITION', `secagg ${r.phase}: this agent holds no protocol state for round ${r.round} of job ${r.jobId} (expired, or its advertise phase never ran here)`);
    return s;
  }

  private keyHolderOf(participants: readonly SecAggParticipant[]): SecAggParticipant {
    return [...participants].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]!;
  }

  private async heOfferKey(r: SecurePhaseRequest): Promise<Uint8Array> {
    const { participants } = this.start(r, 'he-keys payload');
    if (this.keyHolderOf(participants).id !== this.deps.name) throw new FedmeshError('FAILED_PRECONDITION', 'he-keys: this agent is not the key holder of the round (the first participant by name)');
    const n = participants.length;
    const { vector, he } = heVectorPlan(r.job, r.layout, r.mode.roundNoise(r.job, r.layout, { agents: n }), n);
    const k = `${r.jobId}#${vector.vectorLength}#${n}`;
    let entry = this.heKeys.get(k);
    if (!entry) {
      const keys = await generateHeKeyPair(he);
      const timer = setTimeout(() => this.heKeys.delete(k), HE_KEYS_IDLE_MS);
      timer.unref();
      entry = { keys, timer };
      this.heKeys.set(k, entry);
    }
    entry.timer.refresh();
    const publicKey = entry.keys.publicKey;
    const signature = this.crypto.ed25519Sign(this.deps.identity.privateKey, heKeyMessage(r.jobId, r.job.hash, r.round, vector.vectorLength, participantsDigest(participants), publicKey));
    return encodeEnvelope({ keyHolder: this.deps.name, publicKey, signature });
  }

  private async heEncrypt(r: SecurePhaseRequest): Promise<Uint8Array> {
    const { participants } = this.start(r, 'he-encrypt payload');
    const holder = this.keyHolderOf(participants);
    const offer = (decodeEnvelope(r.msg, 'he-encrypt payload') as { offer?: { keyHolder?: unknown; publicKey?: unknown; signature?: unknown } }).offer;
    const n = participants.length;
    const noise = r.mode.roundNoise(r.job, r.layout, { agents: n });
    const { vector, he } = heVectorPlan(r.job, r.layout, noise, n);
    if (!offer || offer.keyHolder !== holder.id || !(offer.publicKey instanceof Uint8Array) || offer.publicKey.length !== he.publicKeyByteSize || !(offer.signature instanceof Uint8Array)) {
      throw new FedmeshError('INVALID_ARGUMENT', `he-encrypt: expected the public key of ${holder.id} (${he.publicKeyByteSize} bytes) with its signature`, { field: 'payload' });
    }
    // The key must come from the key holder, not the coordinator: checked against its certificate-attested identity key.
    // … for this round and this participant list (the key holder's quorum for n must match the noise sized for n).
    if (!this.crypto.ed25519Verify(holder.identityPublicKey, heKeyMessage(r.jobId, r.job.hash, r.round, vector.vectorLength, participantsDigest(participants), offer.publicKey), offer.signature)) {
      throw new FedmeshError('UNAUTHENTICATED', `he-encrypt: the public key relayed for ${holder.id} is not signed by its identity key for this round and participant list; refusing to encrypt under it`);
    }
    const values = encodeSecureVector(vector, await r.computeVector(noise), true) as BigInt64Array;
    const cts = await this.deps.hePool().encrypt(he, offer.publicKey, values);
    values.fill(0n);
    const out = new Uint8Array(cts.length * he.ciphertextByteSize);
    cts.forEach((c, i) => out.set(c, i * he.ciphertextByteSize));
    // Signed for this job and round, so the key holder adds only what participants sent for it (heDecrypt).
    const signature = this.crypto.ed25519Sign(this.deps.identity.privateKey, heContributionMessage(r.jobId, r.job.hash, r.round, participantsDigest(participants), sha256(out)));
    return encodeEnvelope({ ciphertexts: out, signature });
  }

  private async heDecrypt(r: SecurePhaseRequest): Promise<Uint8Array> {
    const { participants, requiredContributors } = this.start(r, 'he-decrypt payload');
    if (this.keyHolderOf(participants).id !== this.deps.name) throw new FedmeshError('FAILED_PRECONDITION', 'he-decrypt: this agent is not the key holder of the round');
    const body = decodeEnvelope(r.msg, 'he-decrypt payload') as { contributions?: unknown };
    const n = participants.length;
    const { vector, he } = heVectorPlan(r.job, r.layout, r.mode.roundNoise(r.job, r.layout, { agents: n }), n);
    const size = he.ciphertextCount * he.ciphertextByteSize;
    // Every contribution from a distinct participant, signed by it for this job and round: this agent adds them
    // itself, so what it decrypts is a sum over at least the contributors the job's guarantee needs.
    const list = Array.isArray(body.contributions) ? body.contributions : [];
    const digest = participantsDigest(participants);
    if (list.length > n) throw new FedmeshError('INVALID_ARGUMENT', `he-decrypt: ${list.length} contributions for ${n} participants`, { field: 'payload' });
    const seen = new Set<string>();
    const contributions: Uint8Array[][] = [];
    for (const [i, c] of list.entries()) {
      const { id, ciphertexts, signature } = (c ?? {}) as { id?: unknown; ciphertexts?: unknown; signature?: unknown };
      const who = participants.find((p) => p.id === id);
      if (!who) throw new FedmeshError('INVALID_ARGUMENT', `he-decrypt: contributions[${i}] is not from a participant of the round`, { field: 'payload' });
      if (seen.has(who.id)) throw new FedmeshError('INVALID_ARGUMENT', `he-decrypt: two contributions from ${who.id}`, { field: 'payload' });
      if (!(ciphertexts instanceof Uint8Array) || ciphertexts.length !== size || !(signature instanceof Uint8Array)) throw new FedmeshError('INVALID_ARGUMENT', `he-decrypt: contributions[${i}] must be ${he.ciphertextCount} ciphertexts of ${he.ciphertextByteSize} bytes with a signature`, { field: 'payload' });
      if (!this.crypto.ed25519Verify(who.identityPublicKey, heContributionMessage(r.jobId, r.job.hash, r.round, digest, sha256(ciphertexts)), signature)) {
        throw new FedmeshError('UNAUTHENTICATED', `he-decrypt: the contribution relayed for ${who.id} is not signed by it for round ${r.round} of this job and this participant list; refusing to decrypt`);
      }
      seen.add(who.id);
      contributions.push(Array.from({ length: he.ciphertextCount }, (_, k) => ciphertexts.subarray(k * he.ciphertextByteSize, (k + 1) * he.ciphertextByteSize)));
    }
    if (seen.size < requiredContributors) throw new FedmeshError('QUORUM_NOT_MET', `refusing to decrypt: ${seen.size} contributors, the job's guarantee needs at least ${requiredContributors}`);
    const entry = this.heKeys.get(`${r.jobId}#${vector.vectorLength}#${n}`);
    if (!entry) throw new FedmeshError('FAILED_PRECONDITION', `he-decrypt: this agent holds no key pair for job ${r.jobId} (it restarted or the key expired)`);
    const aggregate = await this.deps.hePool().add(he, contributions);
    const sums = await decryptVector(he, entry.keys.secretKey, aggregate);
    // Decoded here: the coordinator gets each entry's total only, never the digit sums BFV decrypts to (which would
    // show how the agents' values carry between digits; red team 51). This agent, the key holder, does see them.
    const totals = decodeSecureVector(vector, sums).values;
    sums.fill(0n);
    const out = new Uint8Array(totals.length * 8);
    const view = new DataView(out.buffer);
    totals.forEach((x, i) => view.setFloat64(i * 8, x, true));
    return out;
  }

  private drop(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    clearTimeout(s.timer);
    s.vector.fill(0);
    s.client.abort();
    this.sessions.delete(key);
  }

  stop(): void {
    for (const k of [...this.sessions.keys()]) this.drop(k);
    for (const e of this.heKeys.values()) clearTimeout(e.timer);
    this.heKeys.clear();
  }
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function participantsDigest(participants: readonly SecAggParticipant[]): Uint8Array {
  return sha256(participantsBytes(participants));
}
