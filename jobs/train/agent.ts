/**
 * The train kind at the agent: reads its rows once (data.ts, kept in the job's state, never sent), then each
 * round scores the round's global model on its test rows and — in a training round — trains locally from it with
 * TF.js (node-agent/train) and returns its update: w_k · clip(y_k − x) on the public fixed-point grid, with w_k
 * its train rows (or 1 for SCAFFOLD, which also returns its clipped Δc_k and keeps c_k here).
 */
import { FedmeshError } from '../../common/errors.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AgentKindContext, AgentKindDef, StatVector } from '../../common/kinds/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { clipL2, scaffoldClientControl, toGrid } from '../../algorithms/fl/index.js';
import type { LocalModelConfig, LocalTrainConfig } from '../../node-agent/train/local-train.js';
import type { TrainComputeResult } from '../../node-agent/train/compute.js';
import { streamedTrainCompute, trainStreamOf, type TrainRowsSummary, type TrainStream } from './stream.js';
import { runTrainCompute } from '../../node-agent/train/pool.js';
import { guardedSetSize } from '../../node-agent/disclosure/released-cells.js';
import { designPersonGuard } from '../glm/person-guard.js';
import type { GlmReadOptions } from '../glm/design.js';
import { readTrainData, sideSql, usedRowSql, withTrainRows, type TrainAgentData } from './data.js';
import { joinBlocks, trainLayout, type TrainPlan, type TrainRoundInput } from './plan.js';
import type { TrainJobSpec } from './spec.js';
import { isDpTraining } from './privacy-spec.js';
import { dpTrainRound } from './privacy-agent.js';
import { labelExcludedReport } from './label.js';
import { TRAIN_KIND, type CompiledTrainJob } from './index.js';

const DATA = 'train-data';
const CONTROL = 'train-control';
/** SCAFFOLD: the c_i a round computed, kept aside until a later input says that round counted it (TrainRoundInput.counted). */
const PENDING_CONTROL = 'train-control-pending';

/** Agents named in a SCAFFOLD round's `counted` at most (far above any mesh; bounds what an input may hold). */
const MAX_COUNTED_AGENTS = 10_000;

function checkInput(raw: unknown, p: number, scaffold: boolean): TrainRoundInput {
  const i = raw as Partial<TrainRoundInput> | null;
  const okVec = (v: unknown): v is number[] => Array.isArray(v) && v.length === p && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!i || typeof i !== 'object' || (i.phase !== 'train' && i.phase !== 'eval') || !okVec(i.weights) || (scaffold && i.phase === 'train' && !okVec(i.control))) {
    throw new FedmeshError('INVALID_ARGUMENT', `payload.input: a train round needs {phase: "train" | "eval", weights: ${p} finite numbers${scaffold ? ', control: the same' : ''}}`, { field: 'payload' });
  }
  const c = i.counted;
  if (c !== undefined && (!scaffold || typeof c !== 'object' || c === null || Array.isArray(c) || Object.keys(c).length > MAX_COUNTED_AGENTS || Object.values(c).some((r) => !Number.isSafeInteger(r) || (r as number) < 0))) {
    throw new FedmeshError('INVALID_ARGUMENT', `payload.input.counted: SCAFFOLD only, at most ${MAX_COUNTED_AGENTS} agents, each a round number ≥ 0`, { field: 'payload' });
  }
  return i as TrainRoundInput;
}

/** The TF.js model config of a compiled job (hidden layers, then the output unit). */
export function localModelOf(job: CompiledTrainJob): LocalModelConfig {
  const spec = job.spec;
  return { inputs: job.plan.inputs.length, layers: [...spec.model.layers, { units: job.plan.units.at(-1)!, activation: 'linear', dropout: 0 }], loss: spec.loss, l2: spec.model.l2 };
}

/** The phase follows from the public round number, never from the coordinator's word. */
function checkPhase(job: CompiledTrainJob, input: TrainRoundInput, round: number): void {
  // The layout (and in DP training which blocks carry noise) is the round's, so an evaluation asked in a training
  // round would leave exact.
  const expected = round < job.spec.training.rounds ? 'train' : 'eval';
  if (input.phase !== expected) throw new FedmeshError('INVALID_ARGUMENT', `payload.input.phase: round ${round + 1} of this job is ${expected === 'eval' ? 'an' : 'a'} ${expected} round, not ${input.phase}`, { field: 'payload' });
}

/**
 * One round at this agent over rows already read (split out of localStep so that tests and benchmarks run the
 * same code without a database).
 */
export async function trainRound(job: CompiledTrainJob, input: TrainRoundInput, data: TrainAgentData, state: Map<string, unknown>, round: number, signal?: AbortSignal, minCellSize = 0, self?: string): Promise<Float64Array> {
  checkPhase(job, input, round);
  if (isDpTraining(job.spec.privacy)) return dpTrainRound(job, job.spec.privacy, input, data, signal);
  const model = localModelOf(job);
  return exactRound(job, input, data, state, minCellSize, round, self, (weights, train) =>
    runTrainCompute({ model, weights, test: data.test, thresholds: job.plan.thresholds, ...(train ? { train: { ...train, data: data.train } } : {}) }, signal),
  );
}

/** One round at this agent over rows streamed from a site's database server (stream.ts): nothing row-level held whole. */
export async function streamedTrainRound(job: CompiledTrainJob, input: TrainRoundInput, stream: TrainStream, state: Map<string, unknown>, round: number, signal?: AbortSignal, minCellSize = 0, self?: string): Promise<Float64Array> {
  checkPhase(job, input, round);
  if (isDpTraining(job.spec.privacy)) return dpTrainRound(job, job.spec.privacy, input, stream, signal);
  const model = localModelOf(job);
  return exactRound(job, input, stream, state, minCellSize, round, self, (weights, train) => streamedTrainCompute(stream, { model, weights, thresholds: job.plan.thresholds }, train, (t) => runTrainCompute(t, signal), signal));
}

type RoundCompute = (weights: Float64Array, train: { config: LocalTrainConfig; scaffold?: { c: Float32Array; ci: Float32Array } } | undefined) => Promise<Pick<TrainComputeResult, 'evaluation' | 'training'>>;

/**
 * SCAFFOLD: the c_i computed in this agent's last training round becomes its c_i when the coordinator says that round
 * counted this agent's Δc_i (the server's c moved by it), and is dropped otherwise: a secure sum that dropped the
 * agent after its step, or a deadline it missed, left c without its Δc_i, and c_i must not move alone. Without the
 * agent's name or the coordinator's `counted` (tests, an older coordinator) the computed c_i is taken, as before.
 */
function settleControl(state: Map<string, unknown>, counted: Readonly<Record<string, number>> | undefined, self: string | undefined): void {
  const pending = state.get(PENDING_CONTROL) as { round: number; ci: Float32Array } | undefined;
  if (!pending) return;
  if (self === undefined || counted === undefined || counted[self] === pending.round) state.set(CONTROL, pending.ci);
  state.delete(PENDING_CONTROL);
}

/** An exact (mode none) round's figures and update from the rows' counts and the TF.js work `run` does on them. */
async function exactRound(job: CompiledTrainJob, input: TrainRoundInput, rows: TrainRowsSummary, state: Map<string, unknown>, minCellSize: number, round: number, self: string | undefined, run: RoundCompute): Promise<Float64Array> {
  const spec: TrainJobSpec = job.spec;
  const plan: TrainPlan = job.plan;
  const scaffold = spec.strategy.name === 'scaffold';
  if (scaffold && input.phase === 'train') settleControl(state, input.counted, self);
  const ci = (state.get(CONTROL) as Float32Array | undefined) ?? new Float32Array(plan.parameters);
  const c = scaffold && input.phase === 'train' ? Float32Array.from(input.control!) : undefined;
  const t = spec.training;
  // A side of 1 … k − 1 persons (k this agent's minimum cell size; persons, not rows: one person's many rows are still
  // one person) releases nothing exact: test figures leave as zeros with `evalSmall`; a training side does not train
  // at all (its update over one person would be that person's gradient) and flags `trainSmall`.
  const small = (persons: number | undefined, n: number): boolean => n > 0 && (persons ?? n) < minCellSize;
  const trainSmall = small(rows.trainPersons, rows.train.n);
  // update.maxExamples bounds what a side releases, so only a side that releases is held to it: checked on a small side
  // (whose figures leave as zeros), the refusal answered "more than m rows?" for a count the release withholds, and a
  // researcher bisecting m read it exactly (red team 24). A side of at least k persons releases its row count anyway.
  const over = (n: number, persons: number | undefined): boolean => n > spec.update.maxExamples && !small(persons, n);
  if (over(rows.train.n, rows.trainPersons) || over(rows.test.n, rows.testPersons)) throw new FedmeshError('FAILED_PRECONDITION', `update.maxExamples: this agent has more rows than the job's public bound ${spec.update.maxExamples}`, { field: 'update.maxExamples' });
  const training = input.phase === 'train' && rows.train.n > 0 && !trainSmall;
  const weights = Float64Array.from(input.weights);
  // The seed varies by round so local shuffles differ from round to round (still public and reproducible).
  const config = { epochs: t.localEpochs, batchSize: t.batchSize, optimizer: t.optimizer, learningRate: t.learningRate, momentum: t.momentum, mu: spec.strategy.name === 'fedprox' ? spec.strategy.mu : 0, seed: (t.seed + 1000003 * (round + 1)) >>> 0 };
  const out = await run(weights, training ? { config, ...(c ? { scaffold: { c, ci } } : {}) } : undefined);
  const ev = out.evaluation;
  // Mode none: test figures over 1 … k − 1 rows leave as zeros with a flag (the coordinator never holds them; the
  // round's pooled test figures are withheld on the flag, plan.ts exactTestWithheld).
  const evalSmall = small(rows.testPersons, ev.n);
  const parts: Record<string, ArrayLike<number>> = evalSmall
    ? { evalSmall: [1] }
    : { evalN: [ev.n], evalLoss: toGrid([ev.lossSum], -20), evalCorrect: [ev.correct], rocPos: ev.rocPos, rocNeg: ev.rocNeg, evalSmall: [0] };
  if (spec.labelLevels !== undefined && input.phase === 'eval') parts.labelExcluded = [labelExcludedReport(rows, minCellSize)];
  if (training && out.training) {
    const res = out.training;
    const delta = Float64Array.from(res.weights, (w, i) => w - input.weights[i]!);
    clipL2(delta, spec.update.clip);
    const w = plan.weighting === 'examples' ? rows.train.n : 1;
    parts.delta = toGrid(delta.map((d) => d * w), spec.update.gridExponent);
    parts.weight = [w];
    parts.trainLoss = toGrid([res.lossSum], -20);
    parts.trainN = [rows.train.n];
    if (scaffold) {
      // Option II (algorithms/fl scaffoldClientControl, tested against the paper): c_i⁺ = c_i − c + (x − y_i)/(K η_l);
      // send Δc_i = c_i⁺ − c_i (clipped), keep c_i as it moves by the Δc_i sent.
      const ciPlus = scaffoldClientControl(Float64Array.from(ci), Float64Array.from(c!), Float64Array.from(input.weights), Float64Array.from(res.weights), res.steps, t.learningRate);
      const dc = ciPlus.map((v, i) => v - ci[i]!);
      clipL2(dc, spec.update.controlClip);
      const dcGrid = toGrid(dc, spec.update.gridExponent);
      state.set(PENDING_CONTROL, { round, ci: Float32Array.from(ci, (v, i) => v + dcGrid[i]!) });
      parts.deltaC = dcGrid;
    }
  }
  if (trainSmall && input.phase === 'train') parts.trainSmall = [1];
  return joinBlocks(trainLayout(spec, plan), parts);
}

export const trainAgentKind: AgentKindDef<TrainJobSpec, TrainPlan, TrainRoundInput> = {
  kind: TRAIN_KIND,
  localStep: (ctx, job, input, signal) => trainStep(ctx, job, input, signal, ctx.conn),
  /**
   * On a site's own database server (issue 13): the split, the label classes, the cohort and the design are computed
   * there in its dialect (TEMP tables of the session), and only the design's numeric columns come back through a
   * cursor (with, in mode none, the persons of each side for the differencing guard); nothing is staged in the
   * agent's DuckDB. Every round streams its rows from the server, a chunk at a time (stream.ts), and the job's state
   * keeps nothing row-level: exact training reads them in a server-side shuffle per local epoch, DP training sums
   * its clipped gradients over them, or (local steps) fetches each step's Poisson batch by index.
   */
  onSource: (ctx, job, input, session, signal) => trainServerStep(ctx, job, input, signal, session as SqlSession),
  needsSource: () => true,
  streamsLocally: true,
  // c_i and the pending c_i are replaced (never changed in place) each round, so the runner can put them back when the
  // round fails after the step.
  rollbackOnFailure: [CONTROL, PENDING_CONTROL],
  // A restarted agent must go on with its c_i (and a computed c_i the next input may count), not with zeros: SCAFFOLD's
  // correction c − c_i would otherwise be lost for it with no error.
  durableState: [CONTROL, PENDING_CONTROL],
};

/**
 * The reader's disclosure rules: in mode none the agent's minimum cell size and the glm rules (DataSHIELD's, on the
 * design) with train's label-level rule; in the DP modes none of them. A DP job's success must not depend on the
 * data: a refusal there answers "fewer than k persons with this label?" exactly, and bisecting a `where` read one
 * person's attribute for ε = 0.08 (red team 26, F1). The noise is what protects a DP release.
 */
function readerRules(ctx: AgentKindContext, job: CompiledTrainJob): { minCellSize: number; skipDisclosure?: true } {
  return isDpTraining(job.spec.privacy) ? { minCellSize: 0, skipDisclosure: true } : { minCellSize: ctx.policy.minCellSize };
}

/** What a streamed job's rows were: their counts and each side's order-free hash (stream.ts), once read whole. */
const FINGERPRINT = 'train-rows-fingerprint';
type Fingerprint = ReturnType<TrainStream['fingerprint']>;

function scratchOf(jobId: string): string {
  return `train_${jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}`;
}

/**
 * Mode none: the persons of each split side go through the agent's differencing guard (jobs/glm/person-guard.ts),
 * and with declared label levels the persons left out for an unlisted label as a set of their own: the final round
 * releases their row count (labelExcluded), so two jobs whose left-out persons differ by one would tell that person's
 * label apart even with the same sides (red team 23).
 */
function personGuard(ctx: AgentKindContext, job: CompiledTrainJob): GlmReadOptions['onRows'] {
  if (isDpTraining(job.spec.privacy) || ctx.guardReleasedSets === undefined) return undefined;
  const levels = job.spec.labelLevels !== undefined;
  const cell = levels ? (lastTerm: string) => `CASE WHEN NOT (${usedRowSql(job.spec)}) THEN 'label-excluded' ELSE ${sideSql(lastTerm)} END` : sideSql;
  // The left-out count is reported only from the minimum cell size of persons, inside a secure sum too
  // (labelExcludedReport): a smaller left-out set is never released, so it is no candidate.
  return designPersonGuard({ salt: ctx.salt, minPersons: guardedSetSize(job.spec.secure, ctx.policy.minCellSize), guard: ctx.guardReleasedSets, local: ctx.conn, cell, ...(levels ? { cellMinimum: { cell: 'label-excluded', minPersons: Math.max(1, ctx.policy.minCellSize) } } : {}) });
}

/**
 * One round on a site's database server, its rows streamed (stream.ts). Mode none: the persons go through the guard
 * until a round has read both sides whole (a round that fails in between must not let a later one skip it); from then
 * on every round's rows must be those rows — their counts and order-free hashes — or the round fails with
 * FAILED_PRECONDITION rather than release figures over other rows than the guard saw. DP training needs neither:
 * each round's release is private over whatever rows the server holds (at most maxRowsPerPerson per person).
 */
async function trainServerStep(ctx: AgentKindContext, job: CompiledTrainJob, rawInput: TrainRoundInput, signal: AbortSignal, session: SqlSession): Promise<StatVector> {
  const input = checkInput(rawInput, job.plan.parameters, job.spec.strategy.name === 'scaffold');
  const seen = ctx.jobState.get(FINGERPRINT) as Fingerprint | undefined;
  const onRows = seen?.train !== undefined && seen.test !== undefined ? undefined : personGuard(ctx, job);
  const opts = { salt: ctx.salt, ...readerRules(ctx, job), scratch: scratchOf(ctx.jobId), ...(ctx.cohortMembers ? { cohortMembers: ctx.cohortMembers } : {}), ...(onRows ? { onRows } : {}) };
  // SCAFFOLD's c_i moves in the round (exactRound): back to where it was if the round then fails, so that a round
  // refused over changed rows leaves nothing of them behind (red team 22, F1).
  const kept = [CONTROL, PENDING_CONTROL].map((key) => [key, ctx.jobState.get(key)] as const);
  const restore = (e: unknown): never => {
    for (const [key, v] of kept) {
      if (v === undefined) ctx.jobState.delete(key);
      else ctx.jobState.set(key, v);
    }
    throw e;
  };
  return withTrainRows(session, job.spec, ctx.product, opts, signal, async (access) => {
    const stream = await trainStreamOf(job.spec, access, readerRules(ctx, job).minCellSize);
    const values = await streamedTrainRound(job, input, stream, ctx.jobState, ctx.round, signal, ctx.policy.minCellSize, ctx.agent).finally(() => stream.close());
    if (isDpTraining(job.spec.privacy)) return { values };
    const now = stream.fingerprint();
    const differs = seen !== undefined && (seen.counts !== now.counts || (['train', 'test'] as const).some((k) => seen[k] !== undefined && now[k] !== undefined && seen[k] !== now[k]));
    if (differs) throw new FedmeshError('FAILED_PRECONDITION', 'train: the rows of this job changed on the database server between two rounds (data loaded or deleted during training); run the job again', { field: 'product' });
    const train = seen?.train ?? now.train;
    const test = seen?.test ?? now.test;
    ctx.jobState.set(FINGERPRINT, { counts: now.counts, ...(train !== undefined ? { train } : {}), ...(test !== undefined ? { test } : {}) });
    return { values };
  }).catch(restore);
}

/** One round at this agent; its rows are read from `db` (the agent's DuckDB or a server session) the first time. */
async function trainStep(ctx: AgentKindContext, job: CompiledTrainJob, rawInput: TrainRoundInput, signal: AbortSignal, db: DuckDBConnection | SqlSession): Promise<StatVector> {
  const input = checkInput(rawInput, job.plan.parameters, job.spec.strategy.name === 'scaffold');
  let data = ctx.jobState.get(DATA) as TrainAgentData | undefined;
  if (!data) {
    // Mode none: the persons of each split side (the last design term is the test dummy) go through the agent's
    // differencing guard before any figure is computed.
    const onRows = personGuard(ctx, job);
    data = await readTrainData(db, job.spec, ctx.product, { salt: ctx.salt, ...readerRules(ctx, job), scratch: scratchOf(ctx.jobId), ...(ctx.cohortMembers ? { cohortMembers: ctx.cohortMembers } : {}), ...(onRows ? { onRows } : {}) }, signal);
    ctx.jobState.set(DATA, data);
  }
  signal.throwIfAborted();
  return { values: await trainRound(job, input, data, ctx.jobState, ctx.round, signal, ctx.policy.minCellSize, ctx.agent) };
}
