/**
 * Reproducible model initialisation: Glorot-uniform kernels (Glorot & Bengio 2010: U(−l, l), l = √(6/(fan_in +
 * fan_out))) and zero biases, from a seeded generator. The seed is public and nothing here is privacy noise: it
 * only makes a run repeatable, and every agent and the coordinator derive the same initial model.
 */

/** mulberry32: a small 32-bit generator for public, reproducible choices (initialisation, shuffling). */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shapes of a dense stack: per layer the kernel [in, out] then the bias [out]. */
export function denseShapes(inputs: number, units: readonly number[]): number[][] {
  const shapes: number[][] = [];
  let prev = inputs;
  for (const u of units) {
    shapes.push([prev, u], [u]);
    prev = u;
  }
  return shapes;
}

/** Flat initial weights for `shapes` (kernels rank 2, biases rank 1). */
export function glorotInit(shapes: readonly (readonly number[])[], seed: number): Float64Array {
  const total = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const out = new Float64Array(total);
  const u = seededUniform(seed);
  let at = 0;
  for (const s of shapes) {
    const size = s.reduce((x, y) => x * y, 1);
    if (s.length === 2) {
      const l = Math.sqrt(6 / (s[0]! + s[1]!));
      for (let i = 0; i < size; i++) out[at + i] = (2 * u() - 1) * l;
    }
    at += size;
  }
  return out;
}

/** A Fisher–Yates permutation of 0..n−1 from a public seed (local shuffling; not privacy). */
export function seededPermutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const u = seededUniform(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
