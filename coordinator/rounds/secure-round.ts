/**
 * The coordinator's side of a secure sum over one round's statistics vector, for any kind (the protocol facts are
 * in common/kinds/secure-sum.ts). It relays protocol messages between the round's participants and learns only
 * the sum: SecAgg unmasks the total of the surviving masked vectors; HE adds ciphertexts in the coordinator's
 * pool (it imports only common/he/coordinator.js: no key generation, no decryption) and asks the key-holding
 * agent to decrypt that one aggregate. Each phase's replies are checked against public sizes before use.
 */
import { SecAggServer, isSecAggError, type AdvertiseKeysMessage, type MaskedInputMessage, type ShareKeysMessage, type UnmaskResponse } from '../../algorithms/secagg/index.js';
import { createNodeSecAggCrypto, secAggErrorToFedmesh } from '../../common/crypto/index.js';
import { gridOfExponent } from '../../algorithms/dp/index.js';
import { FedmeshError, quote } from '../../common/errors.js';
import {
  decodeSecureVector,
  heVectorPlan,
  secAggRunId,
  secAggElements,
  secureVectorEntries,
  secAggVectorPlan,
  secureQuorum,
  type BlockNoise,
  type CompiledKindJob,
  type SecurePhase,
  type StatLayout,
  type StatVector,
} from '../../common/kinds/index.js';
import { decodeEnvelope, encodeEnvelope, type IdentityAttestation } from '../../common/secure/index.js';
import { shownAgentErrors } from './shown-error.js';

type AgentError = { code: string; message: string };

/** Asks one agent one phase of the round; the reply's bytes or its error. */
export type PhaseAsk = (agent: string, phase: SecurePhase, msg: Uint8Array) => Promise<{ ok: true; bytes: Uint8Array } | { ok: false; error: AgentError }>;

export interface SecureRoundContext {
  job: CompiledKindJob;
  jobId: string;
  round: number;
  layout: StatLayout;
  noise: readonly BlockNoise[];
  participants: readonly string[];
  ask: PhaseAsk;
  /** The certificate-signed identity key each agent registered with (relayed, never trusted by the coordinator). */
  attestationOf: (agent: string) => IdentityAttestation | undefined;
  /** When the agents may forget the round's protocol state. */
  deadlineMs: number;
}

export interface SecureRoundOutcome {
  sum: StatVector;
  /** Agents whose vectors are in the sum. */
  answered: string[];
  errors: Record<string, AgentError>;
}

/** What round-1 (advertise / he-keys) messages carry: the participants, attested, in an agreed order. */
export interface SecureRoundStart {
  runId: string;
  threshold: number;
  deadlineMs: number;
  participants: { id: string; attestation: IdentityAttestation }[];
}

const crypto = createNodeSecAggCrypto();

function start(ctx: SecureRoundContext, threshold: number): SecureRoundStart {
  return {
    runId: secAggRunId(ctx.jobId, ctx.round, ctx.job.hash),
    threshold,
    deadlineMs: ctx.deadlineMs,
    participants: ctx.participants.map((id) => {
      const attestation = ctx.attestationOf(id);
      if (!attestation) throw new FedmeshError('FAILED_PRECONDITION', `secure: agent ${id} registered no certificate-signed identity key (it runs without mTLS), so it cannot take part in a ${ctx.job.secure} sum`, { field: 'secure' });
      return { id, attestation };
    }),
  };
}

/** Runs one phase on `targets`; successful replies go to `receive`, failures (and refused replies) to `errors`. */
async function phase(ctx: SecureRoundContext, name: SecurePhase, targets: readonly string[], msgFor: (agent: string) => Uint8Array, receive: (agent: string, bytes: Uint8Array) => void, errors: Record<string, AgentError>): Promise<void> {
  await Promise.all(
    targets.map(async (agent) => {
      const r = await ctx.ask(agent, name, msgFor(agent));
      if (!r.ok) {
        errors[agent] = r.error;
        return;
      }
      try {
        receive(agent, r.bytes);
      } catch (e) {
        const f = secAggErrorToFedmesh(e) as FedmeshError;
        errors[agent] = { code: f.code ?? 'INVALID_ARGUMENT', message: `${name}: ${f.message}` };
      }
    }),
  );
}

function fromAgent<T extends { clientId: string }>(agent: string, bytes: Uint8Array, what: string): T {
  const msg = decodeEnvelope(bytes, what) as T;
  // The transport knows who sent it (mTLS); a message claiming another sender is refused.
  if (msg?.clientId !== agent) throw new FedmeshError('INVALID_ARGUMENT', `${what} claims to come from ${quote(msg?.clientId)}`);
  return msg;
}

function quorumFailure(ctx: SecureRoundContext, why: string, errors: Record<string, AgentError>, answered: string[]): FedmeshError {
  const list = shownAgentErrors(errors);
  return new FedmeshError('QUORUM_NOT_MET', `round ${ctx.round + 1}: secure sum (${ctx.job.secure}) failed: ${why}${list ? ` (${list})` : ''}`, {
    details: { answered, missing: ctx.participants.filter((p) => !answered.includes(p)), round: ctx.round, agentErrors: errors },
  });
}

/** One fresh SecAgg run (Bonawitz et al. 2017) over the round's vectors. @throws FedmeshError QUORUM_NOT_MET */
export async function secAggRoundSum(ctx: SecureRoundContext): Promise<SecureRoundOutcome> {
  const n = ctx.participants.length;
  const { threshold, requiredContributors } = secureQuorum(ctx.job, n);
  const plan = secAggVectorPlan(ctx.job, ctx.layout, ctx.noise, n);
  const s = start(ctx, threshold);
  const server = new SecAggServer({ config: { roundId: s.runId, threshold, vectorLength: plan.vectorLength, elements: secAggElements(plan), participants: s.participants.map((p) => ({ id: p.id, identityPublicKey: p.attestation.identityPublicKey })) }, crypto });
  const errors: Record<string, AgentError> = {};
  try {
    const startBytes = encodeEnvelope(s);
    await phase(ctx, 'advertise', ctx.participants, () => startBytes, (a, b) => server.receiveAdvertisement(fromAgent<AdvertiseKeysMessage>(a, b, 'AdvertiseKeys')), errors);
    const broadcast = encodeEnvelope(server.closeAdvertiseKeys());
    const advertised = ctx.participants.filter((a) => !errors[a]);
    await phase(ctx, 'share', advertised, () => broadcast, (a, b) => server.receiveShareKeys(fromAgent<ShareKeysMessage>(a, b, 'ShareKeys')), errors);
    const relays = new Map(server.closeShareKeys().map((r) => [r.recipientId, encodeEnvelope(r)]));
    await phase(ctx, 'mask', [...relays.keys()], (a) => relays.get(a)!, (a, b) => server.receiveMaskedInput(fromAgent<MaskedInputMessage>(a, b, 'MaskedInput')), errors);
    const request = server.closeMaskedInput();
    if (request.survivorIds.length < requiredContributors) throw quorumFailure(ctx, `${request.survivorIds.length} masked vectors, the round needs ${requiredContributors}`, errors, []);
    const requestBytes = encodeEnvelope(request);
    await phase(ctx, 'unmask', request.survivorIds, () => requestBytes, (a, b) => server.receiveUnmaskResponse(fromAgent<UnmaskResponse>(a, b, 'Unmask')), errors);
    const result = server.finish();
    const answered = [...result.contributorIds].sort();
    if (answered.length < requiredContributors) throw quorumFailure(ctx, `${answered.length} contributors, the round needs ${requiredContributors}`, errors, answered);
    return { sum: decodeSecureVector(plan, result.sum), answered, errors };
  } catch (e) {
    if (e instanceof FedmeshError && e.code === 'QUORUM_NOT_MET') throw e;
    // (the protocol's own code, SECAGG_QUORUM_NOT_MET, is the error's QUORUM_NOT_MET: not repeated in the message)
    if (isSecAggError(e)) throw quorumFailure(ctx, (secAggErrorToFedmesh(e) as Error).message.replace(/^SECAGG_QUORUM_NOT_MET: /, ''), errors, []);
    throw e;
  }
}

/** The HE key holder's signed public key, as relayed to every encrypting agent. */
export interface HeKeyOffer {
  keyHolder: string;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

/**
 * One HE sum: the key holder (first participant by name) offers its signed public key, every participant encrypts
 * under it and signs its ciphertexts, the coordinator relays them all to the key holder, which checks the
 * signatures, adds them and decrypts the aggregate only.
 * @throws FedmeshError QUORUM_NOT_MET
 */
export async function heRoundSum(ctx: SecureRoundContext): Promise<SecureRoundOutcome> {
  const n = ctx.participants.length;
  const { threshold, requiredContributors } = secureQuorum(ctx.job, n);
  const { vector, he } = heVectorPlan(ctx.job, ctx.layout, ctx.noise, n);
  const s = start(ctx, threshold);
  const keyHolder = [...ctx.participants].sort()[0]!;
  const errors: Record<string, AgentError> = {};
  let offer: HeKeyOffer | undefined;
  await phase(ctx, 'he-keys', [keyHolder], () => encodeEnvelope(s), (a, b) => {
    const o = decodeEnvelope(b, 'HE key offer') as HeKeyOffer;
    if (o?.keyHolder !== a || !(o.publicKey instanceof Uint8Array) || o.publicKey.length !== he.publicKeyByteSize || !(o.signature instanceof Uint8Array)) throw new FedmeshError('INVALID_ARGUMENT', `HE key offer: expected a signed public key of ${he.publicKeyByteSize} bytes from ${a}`);
    offer = o;
  }, errors);
  if (!offer) throw quorumFailure(ctx, `the key holder ${keyHolder} offered no public key`, errors, []);
  const offerBytes = encodeEnvelope({ ...s, offer });
  // Each agent's ciphertexts with its signature for this job and round; the key holder adds them itself, so the
  // coordinator cannot pass off one agent's vector as the sum (node-agent/tasks/kind-secure-phase.ts).
  const contributions = new Map<string, { ciphertexts: Uint8Array; signature: Uint8Array }>();
  const size = he.ciphertextByteSize;
  await phase(ctx, 'he-encrypt', ctx.participants, () => offerBytes, (a, b) => {
    const c = decodeEnvelope(b, 'HE contribution') as { ciphertexts?: unknown; signature?: unknown };
    if (!(c?.ciphertexts instanceof Uint8Array) || c.ciphertexts.length !== he.ciphertextCount * size || !(c.signature instanceof Uint8Array)) throw new FedmeshError('INVALID_ARGUMENT', `sent no signed contribution of ${he.ciphertextCount} ciphertexts of ${size} bytes`);
    contributions.set(a, { ciphertexts: c.ciphertexts, signature: c.signature });
  }, errors);
  const answered = [...contributions.keys()].sort();
  if (answered.length < requiredContributors) throw quorumFailure(ctx, `${answered.length} encrypted vectors, the round needs ${requiredContributors}`, errors, answered);
  const relayed = answered.map((id) => ({ id, ...contributions.get(id)! }));
  // The key holder decodes the sum itself and sends each entry's total (little-endian doubles), not BFV's digit sums.
  const entries = secureVectorEntries(vector);
  let totals: Float64Array | undefined;
  await phase(ctx, 'he-decrypt', [keyHolder], () => encodeEnvelope({ ...s, contributions: relayed }), (a, b) => {
    if (b.length !== entries * 8) throw new FedmeshError('INVALID_ARGUMENT', `sent ${b.length} bytes of decrypted totals, expected ${entries * 8}`);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const t = Float64Array.from({ length: entries }, (_, i) => view.getFloat64(i * 8, true));
    // What m honest contributions can sum to, from public facts: each entry on its block's grid, within m times the
    // block's per-agent bounds (as the limb window bounded it when the coordinator decoded; red team 52).
    const m = BigInt(answered.length);
    let at = 0;
    for (const blk of vector.blocks) {
      const size = gridOfExponent(blk.gridExponent).size;
      const [lo, hi] = [Number(m * blk.lo), Number(m * blk.hi)];
      for (let j = 0; j < blk.length * blk.digits; j++, at++) {
        const k = t[at]! / size;
        if (!Number.isInteger(k) || k < lo || k > hi) throw new FedmeshError('INVALID_ARGUMENT', `sent a decrypted total for block ${blk.name} that ${answered.length} contributions cannot sum to (off its grid 2^${blk.gridExponent} or outside its bounds)`);
        if (t[at] === 0) t[at] = 0; // never -0
      }
    }
    totals = t;
  }, errors);
  if (!totals) throw quorumFailure(ctx, `the key holder ${keyHolder} did not decrypt the aggregate`, errors, answered);
  return { sum: { values: totals }, answered, errors };
}
