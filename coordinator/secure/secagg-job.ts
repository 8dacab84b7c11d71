/**
 * The coordinator's side of a SecAgg aggregate job: it drives the four rounds of Bonawitz et al. as tasks
 * (round 1 AdvertiseKeys, 2 ShareKeys, 3 MaskedInputCollection, 4 Unmasking) through the Dispatcher, relays the
 * protocol messages, and unmasks only the sum. Each round closes when every agent asked has answered, or at its
 * share of the job time; whoever has not answered by then has dropped. t or more survivors complete the job,
 * fewer fail it with QUORUM_NOT_MET.
 */
import { performance } from 'node:perf_hooks';
import {
  SecAggServer,
  isSecAggError,
  type AdvertiseKeysMessage,
  type MaskedInputMessage,
  type SecAggResult,
  type ShareKeysMessage,
  type UnmaskResponse,
} from '../../algorithms/secagg/index.js';
import { createNodeSecAggCrypto, secAggErrorToFedmesh } from '../../common/crypto/index.js';
import { FedmeshError, quote } from '../../common/errors.js';
import { specSha256 } from '../../common/job/index.js';
import type { AggregateJob, CellJob } from '../../common/job/index.js';
import { SECAGG_ROUNDS, decodeEnvelope, decodeSecureCells, decodeSecureSum, encodeEnvelope, releaseSecureAggregate, releaseSecureCells, type SecAggRoundStart } from '../../common/secure/index.js';
import type { JobErrorInfo } from '../job-record.js';
import { roundDeadline } from './admit-secure.js';
import { askRound, describeErrors, minCellSizeOf, type SecureOutcome, type SecureRunContext } from './secure-run.js';

const ROUND_WEIGHTS = [2, 1, 1, 1];
const crypto = createNodeSecAggCrypto();

function fromAgent<T extends { clientId: string }>(agent: string, payload: Uint8Array, what: string): T {
  const msg = decodeEnvelope(payload, what) as T;
  // The transport knows who sent it (mTLS); a message claiming another sender is refused.
  if (msg?.clientId !== agent) throw new FedmeshError('INVALID_ARGUMENT', `${what} claims to come from ${quote(msg?.clientId)}`);
  return msg;
}

export async function runSecAggJob(ctx: SecureRunContext): Promise<SecureOutcome> {
  const { admission, jobDeadlineMs } = ctx;
  const sp = admission;
  const ids = admission.agents.map((a) => a.name);
  // The spec hash each agent checks against its own: agents given different specs (salt, ε) cannot share a round.
  const roundId = `${ctx.job.id}/secagg/${specSha256(ctx.job.spec)}`;
  const server = new SecAggServer({
    config: { roundId, threshold: sp.threshold, vectorLength: sp.vectorLength, participants: admission.agents.map((a) => ({ id: a.name, identityPublicKey: a.identity!.identityPublicKey })) },
    crypto,
  });
  const errors: Record<string, JobErrorInfo> = {};
  // The coordinator's own work (verifying, relaying, unmasking), for the result's summary and benchmarks.
  let coordinatorMs = 0;
  const timed = <T>(fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      coordinatorMs += performance.now() - t0;
    }
  };
  const guard = (fn: () => void): void => {
    try {
      timed(fn);
    } catch (e) {
      throw secAggErrorToFedmesh(e);
    }
  };
  let result: SecAggResult;
  try {
    const start: SecAggRoundStart = { roundId, threshold: sp.threshold, jobDeadlineMs, participants: admission.agents.map((a) => ({ id: a.name, attestation: a.identity! })) };
    const startBytes = encodeEnvelope(start);
    await askRound(ctx, SECAGG_ROUNDS.advertise, roundDeadline(jobDeadlineMs, ROUND_WEIGHTS, 0), ids, () => startBytes, (a, p) => guard(() => server.receiveAdvertisement(fromAgent<AdvertiseKeysMessage>(a, p, 'AdvertiseKeys'))), errors);
    const broadcast = timed(() => server.closeAdvertiseKeys());
    const broadcastBytes = encodeEnvelope(broadcast);
    await askRound(ctx, SECAGG_ROUNDS.share, roundDeadline(jobDeadlineMs, ROUND_WEIGHTS, 1), broadcast.advertisements.map((a) => a.clientId), () => broadcastBytes, (a, p) => guard(() => server.receiveShareKeys(fromAgent<ShareKeysMessage>(a, p, 'ShareKeys'))), errors);
    const relays = timed(() => new Map(server.closeShareKeys().map((r) => [r.recipientId, encodeEnvelope(r)])));
    await askRound(ctx, SECAGG_ROUNDS.mask, roundDeadline(jobDeadlineMs, ROUND_WEIGHTS, 2), [...relays.keys()], (a) => relays.get(a)!, (a, p) => guard(() => server.receiveMaskedInput(fromAgent<MaskedInputMessage>(a, p, 'MaskedInput'))), errors);
    const request = timed(() => server.closeMaskedInput());
    const requestBytes = encodeEnvelope(request);
    await askRound(ctx, SECAGG_ROUNDS.unmask, roundDeadline(jobDeadlineMs, ROUND_WEIGHTS, 3), request.survivorIds, () => requestBytes, (a, p) => guard(() => server.receiveUnmaskResponse(fromAgent<UnmaskResponse>(a, p, 'Unmask'))), errors);
    result = timed(() => server.finish());
  } catch (e) {
    if (isSecAggError(e) || (e instanceof FedmeshError && e.code === 'QUORUM_NOT_MET')) {
      const base = secAggErrorToFedmesh(e) as FedmeshError;
      throw new FedmeshError('QUORUM_NOT_MET', `secure aggregation (secagg) failed: ${base.message.replace(/^SECAGG_QUORUM_NOT_MET: /, '')}${describeErrors(errors)}`, {
        details: { answered: [], missing: ids, agentErrors: errors },
      });
    }
    throw e;
  }
  const contributors = [...result.contributorIds];
  const missing = ids.filter((id) => !contributors.includes(id));
  if (contributors.length < sp.requiredContributors) {
    throw new FedmeshError('QUORUM_NOT_MET', `${contributors.length} of ${ids.length} agents contributed; the job needs ${sp.requiredContributors}${describeErrors(errors)}`, {
      details: { answered: contributors, missing, agentErrors: errors },
    });
  }
  for (const a of contributors) ctx.emit('agent-answered', a);
  const minCellSize = minCellSizeOf(ctx, contributors);
  const secureInfo = (): { coordinatorMs: number; vectorLength: number } => ({ coordinatorMs: Math.round(coordinatorMs * 1000) / 1000, vectorLength: sp.vectorLength });
  if (sp.cells) {
    const cells = sp.cells;
    const spec = ctx.spec as CellJob;
    const release = timed(() => releaseSecureCells(spec, cells, decodeSecureCells(cells, result.sum), contributors.length, minCellSize));
    release.privacy.threshold = sp.threshold;
    return { answered: contributors, missing, result: { ...release, summary: { ...release.summary, secure: secureInfo() }, agentErrors: errors } };
  }
  const ap = sp.plan!;
  const totals = timed(() => decodeSecureSum(ap.layout, ap.plan, result.sum));
  const release = timed(() => releaseSecureAggregate({ job: ctx.spec as AggregateJob, plan: ap.plan, layout: ap.layout, totals, contributors: contributors.length, minCellSize, ...(ap.noise ? { noise: ap.noise } : {}) }));
  release.privacy.threshold = sp.threshold;
  return { answered: contributors, missing, result: { ...release, summary: { secure: secureInfo() }, agentErrors: errors } };
}
