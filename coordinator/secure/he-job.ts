/**
 * The coordinator's side of an HE aggregate job: each agent encrypts its vector under the researcher's public key;
 * the coordinator screens every ciphertext (exact size, uncompressed header), adds them homomorphically in its
 * piscina pool and returns ONLY the aggregate ciphertexts. It never holds a secret key: it imports nothing but
 * common/he/coordinator.js, and releases no values — the researcher's client decrypts and releases.
 */
import { performance } from 'node:perf_hooks';
import type { HePool } from '../../common/he/coordinator.js';
import { FedmeshError } from '../../common/errors.js';
import { measureField } from '../../common/job/index.js';
import { encodeEnvelope, attestationToJson, checkHeBinding, heRoundId, type HeBinding, type HeRoundStart } from '../../common/secure/index.js';
import type { JobErrorInfo } from '../job-record.js';
import { askRound, describeErrors, minCellSizeOf, type SecureOutcome, type SecureRunContext } from './secure-run.js';

export async function runHeJob(ctx: SecureRunContext, pool: () => HePool): Promise<SecureOutcome> {
  const { admission, spec } = ctx;
  const plan = admission.hePlan!;
  const sp = admission;
  const ids = admission.agents.map((a) => a.name);
  const errors: Record<string, JobErrorInfo> = {};
  const contributions = new Map<string, Uint8Array[]>();
  const size = plan.ciphertextByteSize;
  // The round id binds the sum to the stored spec; each agent checks it and signs its contribution for it.
  const roundId = heRoundId(ctx.job.id, ctx.job.spec);
  const start = encodeEnvelope({ roundId } satisfies HeRoundStart);
  const bindings: { binding: HeBinding; attestation: ReturnType<typeof attestationToJson> }[] = [];
  await askRound(ctx, 1, ctx.jobDeadlineMs, ids, () => start, (agent, payload, outcome) => {
    if (payload.length !== plan.ciphertextCount * size) throw new FedmeshError('INVALID_ARGUMENT', `sent ${payload.length} bytes, expected ${plan.ciphertextCount} ciphertexts of ${size} bytes`);
    // A contribution for another spec (or unsigned) is never added: fail closed, naming the mismatch.
    const identity = admission.agents.find((a) => a.name === agent)?.identity;
    if (!identity) throw new FedmeshError('FAILED_PRECONDITION', `he: agent ${agent} has no attested identity key`);
    checkHeBinding(outcome.meta.heBinding, agent, identity.identityPublicKey, roundId, payload);
    bindings.push({ binding: outcome.meta.heBinding as HeBinding, attestation: attestationToJson(identity) });
    contributions.set(agent, Array.from({ length: plan.ciphertextCount }, (_, i) => payload.subarray(i * size, (i + 1) * size)));
  }, errors);
  const contributors = ids.filter((id) => contributions.has(id));
  const missing = ids.filter((id) => !contributions.has(id));
  if (contributors.length < sp.requiredContributors) {
    throw new FedmeshError('QUORUM_NOT_MET', `${contributors.length} of ${ids.length} agents contributed; the job needs ${sp.requiredContributors}${describeErrors(errors)}`, {
      details: { answered: contributors, missing, agentErrors: errors },
    });
  }
  const t0 = performance.now();
  const sums = await pool().add(plan, contributors.map((a) => contributions.get(a)!));
  const coordinatorMs = Math.round((performance.now() - t0) * 1000) / 1000;
  const resultCiphertexts = new Uint8Array(sums.length * size);
  sums.forEach((c, i) => resultCiphertexts.set(c, i * size));
  for (const a of contributors) ctx.emit('agent-answered', a);
  const noise = sp.plan?.noise ?? sp.cells?.noise;
  let columns: string[] = [];
  if (spec.kind === 'aggregate') {
    const fields = spec.measures.map((m) => measureField(m));
    columns = [...spec.groupBy, ...(noise ? fields.flatMap((f) => [f, `${f}_std`]) : fields)];
  }
  return {
    answered: contributors,
    missing,
    resultCiphertexts,
    result: {
      columns,
      rows: [],
      suppressed: [],
      privacy: { mode: spec.privacy.mode, secure: 'he', sealed: true, ...(noise ? { spent: { rho: noise.cost.rho } } : {}) },
      summary: { secure: { coordinatorMs, vectorLength: sp.vectorLength }, he: { contributors: contributors.length, minCellSize: minCellSizeOf(ctx, contributors), ciphertextCount: plan.ciphertextCount, ciphertextByteSize: size, roundId, bindings: bindings.filter((b) => contributors.includes(b.binding.agent)) } },
      notes: ['he: the coordinator added the encrypted contributions and returns only the aggregate ciphertexts; the researcher client decrypts them with its secret key and releases the values'],
      agentErrors: errors,
    },
  };
}
