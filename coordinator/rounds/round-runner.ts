import type { Rng } from '../../algorithms/rng.js';
import { FedmeshError } from '../../common/errors.js';
import type { IdentityAttestation } from '../../common/secure/index.js';
import { heRoundSum, secAggRoundSum, type SecureRoundContext } from './secure-round.js';
import { shownAgentMessage } from './shown-error.js';
import { checkAgentVector, decodeVector, encodeRoundPayload, exactSumVectors, layoutWithAgentNoise, kindPrivacyModeOf, type AnyKindDef, type CompiledKindJob, type KindRelease, type KindReleaseInfo, type RoundRecord, type StatVector, checkSelectionSecure, collectWithheld, layoutWithWithheld, selectionApplies, zeroWithheld, type WithheldEntry, agentBlockSlices } from '../../common/kinds/index.js';

/** One round task as the runner hands it to a transport. */
export interface RoundTask {
  jobId: string;
  kind: string;
  specJson: string;
  researcher: string;
  round: number;
  payload: Uint8Array;
  deadlineMs: number;
}

export type RoundReply = { ok: true; bytes: Uint8Array } | { ok: false; error: { code: string; message: string } };

/** How round tasks reach agents: the coordinator's Dispatcher over gRPC, or an in-memory fake in tests. */
export interface RoundTransport {
  ask(agent: string, task: RoundTask): Promise<RoundReply>;
  /** Tells agents still working on the job to stop (the job failed). */
  cancelJob(jobId: string): void;
}

/** Where completed rounds are kept, so that a restarted coordinator resumes after the last one. */
export interface RoundStateStore {
  loadRounds(jobId: string): Promise<RoundRecord[]>;
  saveRound(jobId: string, rec: RoundRecord): Promise<void>;
}

export interface RunRoundsOptions {
  def: AnyKindDef;
  job: CompiledKindJob;
  jobId: string;
  researcher: string;
  /** The spec as the agents receive it (they compile it themselves and compare the hash). */
  specJson: string;
  /** The agents asked in the first round. */
  agents: readonly string[];
  transport: RoundTransport;
  store: RoundStateStore;
  rng: Rng;
  /** Told of every completed round, after it is stored (WatchJob `round` events). */
  onRound?: (rec: RoundRecord, missing: readonly string[]) => void;
  /** Test hook: runs before each round is dispatched (a test stops the coordinator here). */
  beforeRound?: (round: number) => Promise<void>;
  now?: () => number;
  /** Secure sums (jobs with secure secagg or he): the agents' attested identity keys and the coordinator's HE pool. */
  secure?: { attestationOf: (agent: string) => IdentityAttestation | undefined };
  /** Public facts passed to the kind's release (the agents' published minimum cell sizes). */
  releaseInfo?: Omit<KindReleaseInfo, 'converged'>;
  /**
   * Whether an agent is connected now. A kind that picks each round's agents (`participants`, train) picks from the
   * agents asked at the start that are: one that failed a round (late, dropped, a bad update) is left out of that
   * round only and asked again once it is back, as Flower samples from the clients connected. @default every agent
   */
  isLive?: (agent: string) => boolean;
}

export interface RoundsOutcome {
  history: RoundRecord[];
  release: KindRelease;
  /** Agents that answered the last round. */
  answered: string[];
  /** Agents asked at the start that did not answer some round (dropout policy `continue`). */
  missing: string[];
  agentErrors: Record<string, { code: string; message: string }>;
  converged: boolean;
}

/**
 * The one round loop for every kind: next input → dispatch to the round's agents with the round's deadline →
 * dropout policy → check each reply against the public layout → sum → privacy mode → store the round → repeat until
 * the kind stops or `maxRounds` → release. Rounds already in the store are not run again (a restarted coordinator
 * resumes after the last completed one); nothing here charges budget, admission did that once.
 * @throws FedmeshError QUORUM_NOT_MET (details: answered, missing) when a round misses agents the policy needs
 */
export async function runRounds(o: RunRoundsOptions): Promise<RoundsOutcome> {
  const { def, job, transport } = o;
  const now = o.now ?? Date.now;
  const mode = kindPrivacyModeOf(def, job);
  const history = await o.store.loadRounds(o.jobId);
  const asked = [...o.agents].sort();
  // On resume with dropouts allowed, the survivors of the last stored round carry on.
  // (With partial participation the last round asked only a sample: the pool is then every agent asked at the start.)
  let participants = history.length > 0 && job.dropout === 'continue' && !def.participants ? [...history[history.length - 1]!.answered] : asked;
  const agentErrors: Record<string, { code: string; message: string }> = {};
  // Agents that failed some round (a kind that picks its agents may ask them again later: they are still named),
  // rebuilt from the stored rounds when a restarted coordinator resumes the job.
  const missed = new Set<string>();
  for (const rec of history) {
    for (const a of rec.missed ?? []) {
      missed.add(a);
      agentErrors[a] ??= { code: 'AGENT_UNAVAILABLE', message: `missed round ${rec.round + 1} (before the coordinator restarted)` };
    }
  }
  let converged = false;
  for (;;) {
    const round = history.length;
    const input = def.nextRound(job, history);
    if (input === undefined) {
      converged = true;
      break;
    }
    if (round >= job.maxRounds) break;
    await o.beforeRound?.(round);
    const layout = def.layout(job, round);
    checkSelectionSecure(job, layout);
    // Mode none: selection blocks may carry the agents' withheld marker (common/kinds/selection.ts).
    const replyLayout = selectionApplies(job) ? layoutWithWithheld(layout) : layout;
    const payload = encodeRoundPayload({ hash: job.hash, input });
    const deadlineMs = now() + job.roundTimeoutMs;
    // A kind that picks its agents picks each round from those asked at the start that are connected now; the others
    // miss this round (named, and counted against the quorum below like any agent that did not answer).
    const away = def.participants ? asked.filter((a) => !(o.isLive?.(a) ?? true)) : [];
    const pool = def.participants ? asked.filter((a) => !away.includes(a)) : participants;
    const notConnected = { code: 'AGENT_UNAVAILABLE', message: `not connected when round ${round + 1} ran` };
    for (const a of away) {
      missed.add(a);
      agentErrors[a] ??= notConnected;
    }
    const roundAgents = def.participants ? def.participants(job, round, pool, o.rng).filter((a) => pool.includes(a)) : pool;
    // Too few connected to reach the quorum: failed now, before any agent computes or any noise or secure sum is set
    // up for a round that cannot be released (review of 7564ca6).
    if (def.participants && roundAgents.length < job.minAgents) {
      transport.cancelJob(o.jobId);
      throw new FedmeshError('QUORUM_NOT_MET', `round ${round + 1}: ${away.length} of ${asked.length} agents not connected (${away.slice(0, 3).join(', ')}${away.length > 3 ? ', …' : ''}), so fewer than ${job.minAgentsField ?? 'quorum'} = ${job.minAgents} can answer`, {
        details: { answered: [], missing: [...asked], round },
      });
    }
    // Distributed noise is split over the agents asked in this round (a sample under partial participation).
    const noise = mode.roundNoise(job, layout, { agents: roundAgents.length });
    let good: { agent: string; vector: StatVector }[] = [];
    const failed: string[] = [];
    let secureSum: StatVector | undefined;
    if (job.secure === 'plain') {
      const replies = await Promise.all(
        roundAgents.map(async (agent) => {
          const r = await transport.ask(agent, { jobId: o.jobId, kind: job.kind, specJson: o.specJson, researcher: o.researcher, round, payload, deadlineMs });
          if (!r.ok) return { agent, error: r.error };
          try {
            const v = decodeVector(layout, r.bytes, agent);
            // Agent-side noise (local-dp) may take an honest vector past the bounds by its public margin.
            checkAgentVector(layoutWithAgentNoise(replyLayout, noise), v, agent);
            return { agent, vector: v };
          } catch (e) {
            return { agent, error: { code: 'INTERNAL', message: e instanceof FedmeshError ? e.message : `agent ${agent} sent an unreadable reply` } };
          }
        }),
      );
      for (const r of replies) {
        if ('vector' in r && r.vector) good.push({ agent: r.agent, vector: r.vector });
        else if ('error' in r && r.error) {
          failed.push(r.agent);
          agentErrors[r.agent] = r.error;
        }
      }
    } else {
      if (!o.secure) throw new FedmeshError('FAILED_PRECONDITION', `secure: this coordinator runs no secure sums for ${job.kind} jobs`, { field: 'secure' });
      const ctx: SecureRoundContext = {
        job,
        jobId: o.jobId,
        round,
        layout,
        noise,
        participants: roundAgents,
        deadlineMs,
        attestationOf: o.secure.attestationOf,
        ask: async (agent, phase, msg) =>
          transport.ask(agent, { jobId: o.jobId, kind: job.kind, specJson: o.specJson, researcher: o.researcher, round, deadlineMs, payload: encodeRoundPayload({ hash: job.hash, input, phase, msg: Buffer.from(msg).toString('base64') }) }),
      };
      try {
        const out = await (job.secure === 'secagg' ? secAggRoundSum(ctx) : heRoundSum(ctx));
        Object.assign(agentErrors, out.errors);
        secureSum = out.sum;
        good = out.answered.map((agent) => ({ agent, vector: out.sum }));
        failed.push(...roundAgents.filter((a) => !out.answered.includes(a)));
      } catch (e) {
        transport.cancelJob(o.jobId);
        throw e;
      }
    }
    const answered = good.map((g) => g.agent).sort();
    // The quorum holds whatever left the agents out: a failure, or not being connected (red team 28: a round over the
    // one connected agent released that agent's update alone).
    if (answered.length < job.minAgents || (failed.length > 0 && job.dropout === 'fail')) {
      transport.cancelJob(o.jobId);
      const first = failed[0] ?? away[0];
      const why = failed.length > 0 && job.dropout === 'fail' ? 'the job needs every agent in every round (dropout policy "fail")' : `fewer than ${job.minAgentsField ?? 'quorum'} = ${job.minAgents} answered`;
      // This round's reason: an agent away now may have failed otherwise in an earlier round.
      const e = (first !== undefined ? (away.includes(first) ? notConnected : agentErrors[first]) : undefined) ?? { code: 'AGENT_UNAVAILABLE', message: 'no answer' };
      const who = `${failed.length} of ${roundAgents.length} agents did not answer${away.length > 0 ? ` and ${away.length} ${away.length === 1 ? 'was' : 'were'} not connected` : ''}`;
      // The agent's message as the transport kept it (cut at 1 000 characters, saying how long it was: the codec), so
      // the researcher reads the reason whole, as on the built-in path; bounded here too for other transports.
      const message = shownAgentMessage(e.message);
      throw new FedmeshError('QUORUM_NOT_MET', `round ${round + 1}: ${who}${first !== undefined ? ` (${first}: ${e.code}: ${message})` : ''}; ${why}`, {
        details: { answered, missing: asked.filter((a) => !answered.includes(a)), round },
      });
    }
    let withheld: WithheldEntry[] = [];
    if (replyLayout !== layout) ({ replies: good, withheld } = collectWithheld(layout, good));
    // Gridded blocks add exactly (so plain equals secure to the last bit); a secure sum arrives summed.
    const sum = zeroWithheld(layout, secureSum ?? exactSumVectors(layout, noise, good.map((g) => g.vector)), withheld);
    // Agent-side noise (local, distributed) went in at the agents; only the central mode adds any here.
    const released = mode.atCoordinator(sum, noise, layout, o.rng);
    // Plain sums in mode none or local-dp: the coordinator holds each agent's (local-dp: already noisy) vector anyway.
    const perBlocks = secureSum === undefined && (job.privacy.mode === 'none' || job.privacy.mode === 'local-dp') ? def.perAgentBlocks?.(job, round) : undefined;
    const perAgent = perBlocks ? agentBlockSlices(layout, perBlocks, good) : undefined;
    const rec: RoundRecord = { round, input, answered, released: Array.from(released.values), noiseStd: noise.map((n) => n.std), federation: asked.length, ...(failed.length + away.length > 0 ? { missed: [...failed, ...away].sort() } : {}), ...(withheld.length > 0 ? { withheld } : {}), ...(perAgent ? { perAgent } : {}), ...answeredMinCellSize(job, answered, o.releaseInfo) };
    await o.store.saveRound(o.jobId, rec);
    history.push(rec);
    failed.forEach((a) => missed.add(a));
    participants = answered;
    o.onRound?.(rec, asked.filter((a) => !answered.includes(a)));
  }
  if (history.length === 0) throw new FedmeshError('INTERNAL', `kind ${job.kind} stopped before its first round`);
  const last = history[history.length - 1]!;
  const release = def.release(job, history, { ...o.releaseInfo, ...knownMinCellSize(history, o.releaseInfo), converged });
  return { history, release, answered: [...last.answered], missing: asked.filter((a) => !last.answered.includes(a) || missed.has(a)), agentErrors, converged };
}

/** Completed rounds kept in memory (tests, and the SDK's local runs). */
export function createMemoryRoundStore(): RoundStateStore & { rounds: Map<string, RoundRecord[]> } {
  const rounds = new Map<string, RoundRecord[]>();
  return {
    rounds,
    loadRounds: async (jobId) => [...(rounds.get(jobId) ?? [])],
    saveRound: async (jobId, rec) => {
      const list = rounds.get(jobId) ?? [];
      if (list.length !== rec.round) throw new RangeError(`round ${rec.round} saved after ${list.length} rounds`);
      rounds.set(jobId, [...list, rec]);
    },
  };
}

/** Mode none: the answering agents' published minimum cell sizes the coordinator knows now, stored with the round. */
function answeredMinCellSize(job: CompiledKindJob, answered: readonly string[], info: RunRoundsOptions['releaseInfo']): { minCellSize?: Record<string, number> } {
  if (job.privacy.mode !== 'none' || !info?.minCellSize) return {};
  const known = Object.fromEntries(answered.flatMap((a) => (info.minCellSize![a] !== undefined ? [[a, info.minCellSize![a]!]] : [])));
  return Object.keys(known).length > 0 ? { minCellSize: known } : {};
}

/**
 * The minimum cell sizes a release applies: those known now and those stored with the rounds (an agent not connected
 * again after a restart), the largest of each agent's. Absent when neither knows any.
 */
function knownMinCellSize(history: readonly RoundRecord[], info: RunRoundsOptions['releaseInfo']): { minCellSize?: Record<string, number> } {
  const out: Record<string, number> = { ...(info?.minCellSize ?? {}) };
  for (const r of history) for (const [a, k] of Object.entries(r.minCellSize ?? {})) out[a] = Math.max(out[a] ?? 0, k);
  return Object.keys(out).length > 0 ? { minCellSize: out } : {};
}
