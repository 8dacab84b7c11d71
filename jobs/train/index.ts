/**
 * `{"kind":"train", …}` on the kind seam: federated training of a logistic/linear regression or an MLP. Round r
 * sends the global model (and SCAFFOLD's c); each agent scores it on its test rows, trains locally with TF.js
 * (node-agent/train) and returns its clipped, fixed-point update with its example count; the coordinator replays
 * the strategy's server rule (algorithms/fl) from the released sums. One last round only evaluates the final model.
 */
import { type CompiledKindJob, type KindDef, type KindRelease, type RoundRecord } from '../../common/kinds/index.js';
import { participantCount, sampleParticipants } from '../../algorithms/fl/index.js';
import { makeTrainPlan, exactTestWithheld, pooledMinCellSize, replayServer, roundMetrics, trainLayout, type TrainPlan, type TrainRoundInput } from './plan.js';
import { DEFAULT_MAX_EXAMPLES, parseTrainSpec, type TrainJobSpec } from './spec.js';
import { dpTrainPrivacy } from './privacy.js';
import { isDpTraining } from './privacy-spec.js';
import { isLocalDp, localDpNote, trainKindPrivacy } from './privacy-local.js';
import { trainRoundLine, trainView } from './view.js';
import { outputActivation } from './loss.js';
import { labelExcludedOf, labelNotes } from './label-release.js';
import { PER_AGENT_BLOCKS, perAgentMetrics, perAgentNote } from './per-agent.js';

export const TRAIN_KIND = 'train';
export type CompiledTrainJob = CompiledKindJob<TrainJobSpec, TrainPlan>;

function nextInput(job: CompiledTrainJob, history: readonly RoundRecord<TrainRoundInput>[]): TrainRoundInput | undefined {
  const rounds = job.spec.training.rounds;
  if (history.length > rounds) return undefined;
  const s = replayServer(job.spec, job.plan, history);
  const weights = Array.from(s.weights);
  if (history.length === rounds) return { phase: 'eval', weights };
  if (!s.c) return { phase: 'train', weights };
  const counted: Record<string, number> = {};
  for (const rec of history) if (rec.input.phase === 'train') for (const a of rec.answered) counted[a] = rec.round;
  return { phase: 'train', weights, control: Array.from(s.c), ...(history.length > 0 ? { counted } : {}) };
}

export const trainKind: KindDef<TrainJobSpec, TrainPlan, TrainRoundInput> = {
  kind: TRAIN_KIND,
  parse: parseTrainSpec,
  // Every count block is bounded by update.maxExamples rows per agent: under a secure sum in mode none it must be the
  // agents' agreed --secure-max-rows (a researcher's bound, summed as Σ min(n_i, m), would read each agent's n_i).
  secureRowBound: { field: 'update.maxExamples', of: (spec) => (spec.update.maxExamples === DEFAULT_MAX_EXAMPLES ? undefined : spec.update.maxExamples), withBound: (spec, rows) => ({ ...spec, update: { ...spec.update, maxExamples: rows } }), refusesInModeNone: true },
  compile: (spec) => ({
    kind: TRAIN_KIND,
    product: spec.product,
    privacy: isDpTraining(spec.privacy) ? trainKindPrivacy(spec.privacy, spec.training.rounds) : { mode: 'none' },
    secure: spec.secure ?? 'plain',
    maxRounds: spec.training.rounds + 1,
    roundTimeoutMs: spec.timeoutMs ?? 300_000,
    // Agents that miss a round's deadline drop out; the round aggregates the survivors, re-weighted by examples.
    dropout: 'continue',
    minAgents: spec.participation.minUpdates,
    minAgentsField: 'participation.minUpdates',
    ...(spec.agents ? { agents: spec.agents } : {}),
    spec,
    plan: makeTrainPlan(spec),
  }),
  layout: (job, round) => trainLayout(job.spec, job.plan, round),
  nextRound: nextInput,
  /** Partial participation: ⌈fraction · pool⌉ agents (at least minUpdates) from the CSPRNG; the eval round asks all. */
  participants(job, round, pool, rng) {
    const { fraction, minUpdates } = job.spec.participation;
    if (fraction >= 1 || round >= job.spec.training.rounds || pool.length === 0) return [...pool];
    return sampleParticipants(pool, participantCount(pool.length, fraction, Math.min(minUpdates, pool.length)), rng);
  },
  // The same thresholds as the release: a progress line must not show what the result withholds.
  roundSummary: (job, rec, info) => trainRoundLine(roundMetrics(job.spec, job.plan, rec, pooledMinCellSize(info))) || undefined,
  perAgentBlocks: (job) => (isDpTraining(job.spec.privacy) ? [] : PER_AGENT_BLOCKS),
  release(job, history, info): KindRelease {
    // Mode none: test figures of fewer than k rows are withheld (the largest published k of the agents asked).
    const k = pooledMinCellSize(info);
    const metrics = history.map((h) => roundMetrics(job.spec, job.plan, h, k));
    const withheldRounds = history.filter((h) => exactTestWithheld(job.spec, job.plan, h, k)).length;
    const final = [...metrics].reverse().find((m) => m.phase === 'eval') ?? metrics.at(-1);
    const s = replayServer(job.spec, job.plan, history);
    const notes = [
      `updates clipped to L2 norm ${job.spec.update.clip} and summed on the fixed-point grid 2^${job.spec.update.gridExponent} (rounding error ≤ 2^${job.spec.update.gridExponent - 1} per weight and agent)`,
      `AUC from a ${job.plan.thresholds.length - 1}-bin public-threshold ROC histogram (no row-level scores leave an agent)`,
    ];
    if (isDpTraining(job.spec.privacy)) notes.push(isLocalDp(job.spec.privacy) ? localDpNote(job.spec.privacy) : `${job.spec.privacy.mode}: each round's sum of per-example gradients (clipped to L2 ${job.spec.privacy.clip}) and its row count carry discrete Gaussian noise; the final model alone is scored on the test rows, from noisy counts (accuracy, AUC); losses are not released`);
    if (withheldRounds > 0) notes.push(`test metrics withheld in ${withheldRounds} of ${history.length} rounds: an agent's test side held 1 … k − 1 rows, or all test rows together fewer than k = ${k} (a pooled exact figure would disclose those rows, alone or as the difference of two jobs)`);
    const labelExcluded = labelExcludedOf(job.spec, job.plan, history);
    notes.push(...labelNotes(job.spec, labelExcluded));
    const agents = perAgentMetrics(job.spec, job.plan, history);
    notes.push(perAgentNote(job.spec, agents));
    if (job.spec.participation.fraction < 1) notes.push(`partial participation: a fraction ${job.spec.participation.fraction} of the agents per round, sampled with the CSPRNG`);
    return {
      columns: ['round', 'phase', 'agents', 'trainLoss', 'testN', 'testLoss', 'testAccuracy', 'testAuc'],
      rows: metrics.map((m) => ({ ...m })),
      summary: {
        strategy: job.spec.strategy.name,
        model: { type: job.spec.model.type, inputs: job.plan.inputs, units: job.plan.units, activations: [...job.spec.model.layers.map((l) => l.activation), outputActivation(job.spec.loss)], shapes: job.plan.shapes, parameters: job.plan.parameters, weights: Array.from(s.weights) },
        ...(agents ? { perAgent: agents.perAgent } : {}),
        ...(labelExcluded !== undefined ? { labelLevels: job.spec.labelLevels, labelExcluded } : {}),
        ...(final ? { final: { testN: final.testN, testLoss: final.testLoss, testAccuracy: final.testAccuracy, testAuc: final.testAuc } } : {}),
      },
      notes,
      privacy: isDpTraining(job.spec.privacy) ? dpTrainPrivacy(job, job.spec.privacy, job.spec.training.rounds, trainLayout(job.spec, job.plan, job.spec.training.rounds), history) : { mode: 'none' },
    };
  },
  view: trainView,
  /** `fedmesh train --json`: the summary (model, final, per-agent), per-round metrics (`rounds`, replacing the summary's count) and the notes. */
  viewJson: (r) => ({ ...(r.summary ?? {}), rounds: r.rows, notes: r.notes }),
};
