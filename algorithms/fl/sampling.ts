import { uniformBigInt, type Rng } from '../rng.js';

/**
 * Partial participation: `count` distinct agents of `pool`, uniformly at random from the CSPRNG passed in (a
 * partial Fisher–Yates shuffle with rejection-sampled indices, so no modulo bias). Returned sorted, so the order
 * of the pool and of the draw leaks nothing. Who takes part is public; which of them a client is is not secret.
 * @throws RangeError when count is not an integer in [1, pool.length]
 */
export function sampleParticipants(pool: readonly string[], count: number, rng: Rng): string[] {
  if (!Number.isInteger(count) || count < 1 || count > pool.length) throw new RangeError(`count must be an integer in [1, ${pool.length}], got ${count}`);
  const a = [...pool].sort();
  for (let i = 0; i < count; i++) {
    const j = i + Number(uniformBigInt(rng, BigInt(a.length - i)));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, count).sort();
}

/** How many of `poolSize` agents a round asks: ⌈fraction · poolSize⌉, at least `min` and at most the pool. */
export function participantCount(poolSize: number, fraction: number, min: number): number {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`fraction must be in (0, 1], got ${fraction}`);
  return Math.min(poolSize, Math.max(min, Math.ceil(fraction * poolSize - 1e-9)));
}
