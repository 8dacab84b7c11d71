/**
 * glmLocalStats in chunks, yielding to the event loop between them: with millions of rows per agent one pass can
 * take seconds, during which an agent that never yields misses its heartbeats and cannot see a cancellation. The
 * rows are visited in the same order as one pass (startGlmLocalPass), so the statistics are identical bit for bit.
 */
import type { GlmDesign } from './design.js';
import type { GlmFamily } from './family.js';
import { startGlmLocalPass, type GlmLocalOptions, type GlmLocalStats, type GlmRoundInput, type GlmWeightSpread } from './local-stats.js';

/** Work per chunk, in multiply-adds (a row costs about p²/2 + 4p): a few milliseconds on one core. */
const CHUNK_WORK = 2 ** 21;

export interface GlmChunkOptions {
  /** Rows per chunk. @default about 2^21 / (p²/2 + 4p), at least 64 */
  readonly chunkRows?: number;
  /** Checked between chunks: an aborted signal stops the pass with its reason. */
  readonly signal?: AbortSignal;
  /** Called once after the pass with the working weights' spread (GlmWeightSpread). */
  readonly onSpread?: (spread: GlmWeightSpread) => void;
}

/** Rows per chunk for p columns (at least 64). */
export function defaultChunkRows(p: number): number {
  return Math.max(64, Math.floor(CHUNK_WORK / ((p * p) / 2 + 4 * p)));
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The same statistics as glmLocalStats, computed chunk by chunk with a setImmediate yield between chunks.
 * @throws RangeError as glmLocalStats, or for chunkRows not a positive integer; the signal's reason if aborted
 */
export async function glmLocalStatsChunked(design: GlmDesign, family: GlmFamily, input: GlmRoundInput, options: GlmLocalOptions = {}, chunk: GlmChunkOptions = {}): Promise<GlmLocalStats> {
  const rows = chunk.chunkRows ?? defaultChunkRows(design.p);
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`glmLocalStatsChunked: chunkRows must be an integer >= 1, got ${rows}`);
  const pass = startGlmLocalPass(design, family, input, options);
  while (pass.next() < design.n) {
    chunk.signal?.throwIfAborted();
    pass.run(pass.next() + rows);
    if (pass.next() < design.n) await yieldToEventLoop();
  }
  const stats = pass.finish();
  chunk.onSpread?.(pass.spread());
  return stats;
}
