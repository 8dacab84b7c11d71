import { createSeededRng, type SeededRng } from '../../algorithms/testing/seeded-rng.js';

/**
 * The fuzzer's source of choices: xoshiro128** from `algorithms/testing/seeded-rng.ts`, so a seed reproduces a whole
 * campaign. This is test input, never privacy noise (product code uses the CSPRNG and the exact samplers).
 */
export class FuzzRand {
  private readonly rng: SeededRng;

  constructor(readonly seed: number | string) {
    this.rng = createSeededRng(seed);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (n <= 1) return 0;
    return this.rng.nextUint32() % n;
  }

  /** A uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.rng.nextUint32() / 0x1_0000_0000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('FuzzRand.pick: empty list');
    return xs[this.int(xs.length)]!;
  }

  bytes(n: number): Uint8Array {
    return this.rng.fill(new Uint8Array(n));
  }

  /** A fresh generator derived from this one, so one stream's length does not shift another's choices. */
  fork(label: string): FuzzRand {
    return new FuzzRand(`${String(this.seed)}/${label}`);
  }
}
