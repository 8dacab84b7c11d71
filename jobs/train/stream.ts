/**
 * Train rows on a site's own database server (issue 13): the agent never holds them whole, and keeps nothing
 * row-level between rounds. Every round prepares the rows on the server again (data.ts withTrainRows: the split, the
 * label classes, the cohort and the design there, in its dialect, with the disclosure rules), then
 * - scores the round's model on the test rows as they come through a cursor, chunk by chunk (loss, correct and the
 *   ROC counts add up over chunks), in a fixed order so that every engine adds them alike;
 * - in a training round, reads the train rows once per local epoch through a cursor in an order shuffled on the
 *   server (ORDER BY a keyed hash of the row with the epoch's public seed), in chunks of whole batches, and trains
 *   chunk after chunk with the optimiser's state and FedProx's anchor carried from one to the next
 *   (node-agent/train/local-train.ts, LocalTrainCarry): the steps one call over all rows in that order would take.
 *
 * The agent holds one chunk of rows (TRAIN_STREAM_CHUNK_ROWS rounded to whole batches) and the model. The label
 * rule and the left-out count of declared label levels are counted on the server (as label.ts counts them in
 * memory). DP training keeps its rows in memory (Poisson sampling needs random access; see jobs/train/README.md).
 */
import { FedmeshError } from '../../common/errors.js';
import type { SqlDialect } from '../../node-agent/sql/index.js';
import type { GlmDesign } from '../../algorithms/glm/index.js';
import { clampedSquaredErrorSum } from '../../algorithms/fl/clamped-error.js';
import type { DenseNet } from '../../algorithms/fl/dp-grad.js';
import type { LocalData, LocalEvalResult, LocalTrainConfig, LocalTrainResult, OptimizerState } from '../../node-agent/train/local-train.js';
import type { TrainComputeResult, TrainComputeTask } from '../../node-agent/train/compute.js';
import { inputsWriter, type TrainRowsAccess } from './data.js';
import type { TrainJobSpec } from './spec.js';

/** Rows per chunk of a streamed side (rounded down to whole batches, at least one batch). */
export const TRAIN_STREAM_CHUNK_ROWS = 16_384;

/** What a round needs to know of the rows before reading them (the counts label.ts and data.ts give in memory). */
export interface TrainRowsSummary {
  readonly train: { readonly n: number };
  readonly test: { readonly n: number };
  readonly trainPersons?: number;
  readonly testPersons?: number;
  readonly labelExcluded?: number;
  readonly labelExcludedPersons?: number;
}

/** The job's used rows on the server, read side by side in chunks (see the file comment). */
export interface TrainStream extends TrainRowsSummary {
  /**
   * One side's rows as model inputs, `chunkRows` at a time, in the keyed order of `seed` (a fixed one when absent;
   * `'any'`: the engine's, for sums whose order does not matter).
   */
  side(which: 'train' | 'test', chunkRows: number, seed?: number | 'any'): AsyncGenerator<LocalData>;
  /**
   * The train rows at `indices[0 … m − 1]` (0-based, ascending, < train.n), at most `chunkRows` at a time, in index
   * order: random access for Poisson batches. The first call copies the train rows on the server with their index
   * (a TEMP table of the session, dropped by `close`).
   */
  rowsAt(indices: Uint32Array, m: number, chunkRows: number): AsyncGenerator<LocalData>;
  /** Drops what rowsAt made on the server. */
  close(): Promise<void>;
  /** An order-free fingerprint of every row read so far per side (see rowsHash), and the counts. */
  fingerprint(): { readonly counts: string; readonly train?: string; readonly test?: string };
}

/** Runs one TF.js task (the agent's piscina pool, or in-process). */
export type TrainCompute = (task: TrainComputeTask) => Promise<TrainComputeResult>;

/** An order-free hash of a multiset of rows: per row two 32-bit mixes of its float64 words, added mod 2³². */
class RowsHash {
  private a = 0;
  private b = 0;
  private rows = 0;

  /** @param skip a design column left out (the person index: its numbering follows the engine's collation) */
  constructor(private readonly skip = -1) {}

  add(d: GlmDesign): void {
    // One buffer for a row's values (y, then x): its 32-bit words are what is mixed, with no allocation per row.
    const view = new Float64Array(d.p + 1);
    const words = new Uint32Array(view.buffer);
    for (let i = 0; i < d.n; i++) {
      // −0 and +0 are the same row value (they tie in ORDER BY).
      view[0] = d.y[i]! + 0;
      for (let j = 0; j < d.p; j++) view[j + 1] = j === this.skip ? 0 : d.x[i * d.p + j]! + 0;
      let h1 = 0x9e3779b9;
      let h2 = 0x7f4a7c15;
      for (let k = 0; k < words.length; k++) {
        const w = words[k]!;
        h1 = Math.imul(h1 ^ w, 0x85ebca6b);
        h1 = (h1 << 13) | (h1 >>> 19);
        h2 = Math.imul(h2 + w, 0xc2b2ae35) ^ (h2 >>> 15);
      }
      h1 ^= h1 >>> 16;
      h1 = Math.imul(h1, 0x7feb352d);
      h2 ^= h2 >>> 13;
      h2 = Math.imul(h2, 0x846ca68b);
      this.a = (this.a + (h1 >>> 0)) >>> 0;
      this.b = (this.b + (h2 >>> 0)) >>> 0;
    }
    this.rows += d.n;
  }

  digest(): string {
    return `${this.rows}:${this.a.toString(16)}:${this.b.toString(16)}`;
  }
}

/**
 * The counts a streamed round needs, made on the server (nothing row-level comes back): used rows per side, and with
 * declared label levels the label rule of label.ts (a class with rows must have at least `minCellSize` persons,
 * distinct person indices over both sides; a row without one is its own person) and the left-out rows and persons.
 * @throws FedmeshError POLICY_DENIED (rule train.labelLevels)
 */
async function summarise(spec: TrainJobSpec, access: TrainRowsAccess, minCellSize: number): Promise<TrainRowsSummary> {
  const { rows, sides, persons, sidePersons, session } = access;
  const d = rows.dialect;
  const base = { ...(sidePersons ? { trainPersons: sidePersons.train, testPersons: sidePersons.test } : {}) };
  if (spec.labelLevels === undefined) return { train: { n: sides.train }, test: { n: sides.test }, ...base };
  const last = rows.columns[rows.p - 1]!;
  const personCount = persons ? `count(DISTINCT ${rows.columns[rows.p - 2]!})` : 'count(*)';
  const klass = 'CASE WHEN y < 0 THEN -1 ELSE y END';
  const perClass = await session.all(`SELECT ${klass} AS k, ${d.cast('count(*)', 'BIGINT')} AS n, ${d.cast(personCount, 'BIGINT')} AS persons FROM ${rows.table} GROUP BY ${klass}`);
  if (perClass.some((r) => Number(r['k']) >= 0 && Number(r['n']) > 0 && Number(r['persons']) < minCellSize)) {
    throw new FedmeshError('POLICY_DENIED', `disclosure rule train.labelLevels: a label level has rows at this agent but fewer than the minimum cell size (${minCellSize}) of persons`, { field: 'label', details: { rule: 'train.labelLevels' } });
  }
  const left = perClass.find((r) => Number(r['k']) < 0);
  const used = await session.all(`SELECT ${last} AS t, ${d.cast('count(*)', 'BIGINT')} AS n FROM ${rows.table} WHERE y >= 0 GROUP BY ${last}`);
  const usedOf = (t: number): number => used.filter((r) => Number(r['t']) === t).reduce((a, r) => a + Number(r['n']), 0);
  return { train: { n: usedOf(0) }, test: { n: usedOf(1) }, ...base, labelExcluded: Number(left?.['n'] ?? 0), labelExcludedPersons: Number(left?.['persons'] ?? 0) };
}

/** The keyed order of a side's rows: an MD5 of every design column with a public seed, the same text on every engine. */
function orderBy(d: SqlDialect, columns: readonly string[], seed: string): string {
  return d.binaryOrder(d.keyedHash(`'fedmesh-train-order:${seed}'`, columns.map((c) => d.cast(c, 'DOUBLE')), columns.map(() => 'DOUBLE' as const)));
}

/**
 * The streamed rows of a train job over `access` (see the file comment).
 * @throws FedmeshError POLICY_DENIED (the label rule)
 */
export async function trainStreamOf(spec: TrainJobSpec, access: TrainRowsAccess, minCellSize: number): Promise<TrainStream> {
  const summary = await summarise(spec, access, minCellSize);
  const { rows, session } = access;
  const d = rows.dialect;
  // The ordered copies sit beside the read's own TEMP tables, under its scratch name.
  const scratch = access.scratch;
  const ordered = `${scratch}_ord`;
  const indexed = `${scratch}_rn`;
  let copied = false;
  const toLocal = (chunk: GlmDesign, test: boolean): LocalData => {
    const w = inputsWriter(spec, test ? 0 : chunk.n, test ? chunk.n : 0, false);
    w.add(chunk);
    const out = w.finish();
    return test ? out.test : out.train;
  };
  const last = rows.columns[rows.p - 1]!;
  const used = spec.labelLevels !== undefined ? ' AND y >= 0' : '';
  // The person index (declared label levels) numbers persons in the engine's collation order: it is no input and
  // stays out of the shuffle key and the fingerprint, so that every engine orders and hashes the rows alike.
  const personAt = access.persons ? rows.p - 2 : -1;
  const keyColumns = rows.columns.filter((_, j) => j !== personAt);
  const cols = rows.columns.join(', ');
  /** A copy of some rows numbered rn = 0 … in `order` (empty: the engine's), for range reads a chunk at a time. */
  const copy = async (table: string, where: string, order: string): Promise<void> => {
    for (const sql of d.createTempTableAs(table, `SELECT ${d.cast(`row_number() OVER (${order ? `ORDER BY ${order}` : ''}) - 1`, 'BIGINT')} AS rn, ${cols} FROM ${rows.table} WHERE ${where}`)) await session.run(sql);
    for (const sql of d.indexTempTable(table, 'rn')) await session.run(sql);
  };
  /**
   * Rows `where` of a copy, read whole before they are handed on: no cursor (and on a server no transaction) stays
   * open while the caller trains on them.
   */
  const read = async (table: string, where: string, n: number, test: boolean, hash?: RowsHash): Promise<LocalData | undefined> => {
    let out: LocalData | undefined;
    for await (const chunk of rows.part(Math.max(1, n), { from: d.tempTable(table), where, orderBy: 'rn', n })) {
      hash?.add(chunk);
      out = toLocal(chunk, test);
    }
    return out;
  };
  // A side without rows is read whole without a read (a round that does not train still fingerprints it).
  const none = new RowsHash().digest();
  const done: { train?: string; test?: string } = { ...(summary.train.n === 0 ? { train: none } : {}), ...(summary.test.n === 0 ? { test: none } : {}) };
  return {
    ...summary,
    async *side(which, chunkRows, seed) {
      const test = which === 'test';
      const n = test ? summary.test.n : summary.train.n;
      const hash = new RowsHash(personAt);
      if (n > 0) {
        try {
          await copy(ordered, `${last} = ${test ? 1 : 0}${used}`, seed === 'any' ? '' : orderBy(d, keyColumns, seed === undefined ? 'fixed' : String(seed >>> 0)));
          for (let from = 0; from < n; from += chunkRows) {
            const to = Math.min(n, from + chunkRows);
            const chunk = await read(ordered, `rn >= ${from} AND rn < ${to}`, to - from, test, hash);
            if (chunk) yield chunk;
          }
        } finally {
          await session.run(d.dropTempTable(ordered)).catch(() => undefined);
        }
      }
      // Read to the end: this side's rows are fingerprinted.
      done[which] = hash.digest();
    },
    async *rowsAt(indices, m, chunkRows) {
      if (!copied) {
        // Marked first: a copy that fails half-way (its index) is dropped by close() all the same.
        copied = true;
        // row_number() over the engine's order: any order will do (the batches are random), fixed once copied.
        await copy(indexed, `${last} = 0${used}`, '');
      }
      for (let from = 0; from < m; from += chunkRows) {
        const to = Math.min(m, from + chunkRows);
        const list: string[] = [];
        for (let i = from; i < to; i++) {
          const r = indices[i]!;
          if (!Number.isSafeInteger(r) || r >= summary.train.n) throw new RangeError('rowsAt: an index beyond the train rows');
          list.push(String(r));
        }
        const chunk = await read(indexed, `rn IN (${list.join(', ')})`, to - from, false);
        if (chunk) yield chunk;
      }
    },
    async close() {
      // Never instead of the round's own error (close runs in a finally).
      if (copied) await session.run(d.dropTempTable(indexed)).catch(() => undefined);
      copied = false;
    },
    fingerprint: () => ({ counts: `${summary.train.n}/${summary.test.n}/${summary.trainPersons ?? '-'}/${summary.testPersons ?? '-'}/${summary.labelExcluded ?? '-'}/${rows.nDropped}`, ...done }),
  };
}

/** No rows (a task that only trains, or only scores nothing). */
export const NO_ROWS: LocalData = { x: new Float32Array(0), y: new Float32Array(0), n: 0 };

/** Adds chunk `b`'s evaluation into `a` (every figure is a sum over rows; the ROC counts add threshold by threshold). */
function addEvaluation(a: LocalEvalResult | undefined, b: LocalEvalResult): LocalEvalResult {
  if (!a) return b;
  return { n: a.n + b.n, lossSum: a.lossSum + b.lossSum, correct: a.correct + b.correct, rocPos: a.rocPos.map((v, i) => v + b.rocPos[i]!), rocNeg: a.rocNeg.map((v, i) => v + b.rocNeg[i]!) };
}

/**
 * The test figures of `task.weights` over the streamed test rows (any order: sums), with, for a DP regression, the
 * test rows' clamped squared errors (algorithms/fl/clamped-error.ts) summed in the same pass.
 */
export async function streamedEvaluation(
  stream: TrainStream,
  task: Pick<TrainComputeTask, 'model' | 'weights' | 'thresholds'>,
  compute: TrainCompute,
  opts: { readonly clamped?: { readonly net: DenseNet; readonly bounds: readonly [number, number] }; readonly anyOrder?: boolean; readonly chunkRows?: number; readonly signal?: AbortSignal | undefined } = {},
): Promise<{ evaluation: LocalEvalResult; clampedLoss: number }> {
  const { clamped, signal } = opts;
  let evaluation: LocalEvalResult | undefined;
  let clampedLoss = 0;
  // A fixed order where the float loss is released exactly (mode none: every engine adds it alike); DP noises it.
  for await (const chunk of stream.side('test', opts.chunkRows ?? TRAIN_STREAM_CHUNK_ROWS, opts.anyOrder ? 'any' : undefined)) {
    signal?.throwIfAborted();
    evaluation = addEvaluation(evaluation, (await compute({ ...task, test: chunk })).evaluation);
    if (clamped) clampedLoss += clampedSquaredErrorSum(clamped.net, task.weights, chunk.x, chunk.y, chunk.n, clamped.bounds);
  }
  evaluation ??= (await compute({ ...task, test: NO_ROWS })).evaluation;
  return { evaluation, clampedLoss };
}

/**
 * One round's TF.js work over streamed rows: the evaluation of `weights` on the test side, then (with `train`) the
 * local epochs over the train side, each in its server-shuffled order. The same result shape as one task over rows in
 * memory (node-agent/train/compute.ts).
 */
export async function streamedTrainCompute(
  stream: TrainStream,
  task: Pick<TrainComputeTask, 'model' | 'weights' | 'thresholds'>,
  train: { readonly config: LocalTrainConfig; readonly scaffold?: { c: Float32Array; ci: Float32Array } } | undefined,
  compute: TrainCompute,
  signal?: AbortSignal,
): Promise<Pick<TrainComputeResult, 'evaluation' | 'training'>> {
  const batch = train?.config.batchSize ?? 1;
  const chunkRows = Math.max(1, Math.floor(TRAIN_STREAM_CHUNK_ROWS / batch)) * batch;
  const { evaluation } = await streamedEvaluation(stream, task, compute, { signal, chunkRows });
  if (!train) return { evaluation };
  const cfg = train.config;
  let weights: Float64Array = task.weights;
  let optimizer: OptimizerState | undefined;
  let steps = 0;
  let lossSum = 0;
  let chunkIndex = 0;
  for (let e = 0; e < cfg.epochs; e++) {
    let epochLoss = 0;
    for await (const chunk of stream.side('train', chunkRows, (cfg.seed * 7919 + e) >>> 0)) {
      signal?.throwIfAborted();
      // Dropout masks differ from chunk to chunk (a chunk's model is built afresh with this seed).
      const config = { ...cfg, epochs: 1, seed: (cfg.seed + 104_729 * ++chunkIndex) >>> 0 };
      const out = await compute({ ...task, weights, test: NO_ROWS, train: { config, data: chunk, ...(train.scaffold ? { scaffold: train.scaffold } : {}), carry: { inOrder: true, anchor: task.weights, ...(optimizer ? { optimizer } : {}), keepOptimizer: true } } });
      const r: LocalTrainResult = out.training!;
      weights = Float64Array.from(r.weights);
      optimizer = r.optimizer;
      steps += r.steps;
      epochLoss += r.lossSum;
    }
    lossSum = epochLoss;
  }
  return { evaluation, training: { weights: Float32Array.from(weights), steps, lossSum } };
}
