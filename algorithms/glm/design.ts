/**
 * The numeric design one party holds: a row-major n×p matrix X (the intercept column included), the outcome y,
 * optional prior weights and an optional offset. This is what an agent builds from its rows and what
 * `fitPooled` fits; nothing here ever leaves the party that holds it — only `GlmLocalStats` do.
 */

export interface GlmDesign {
  /** Number of rows. */
  readonly n: number;
  /** Number of columns of X, the intercept included. */
  readonly p: number;
  /** Row-major n×p design matrix: x[i·p + j] is row i, column j. */
  readonly x: Float64Array;
  /** Outcome, length n (binomial: 0 or 1; poisson: counts ≥ 0). */
  readonly y: Float64Array;
  /** Prior weights, length n, each finite and > 0. @default all 1 */
  readonly weights?: Float64Array;
  /** Offset added to the linear predictor, length n (e.g. log exposure for poisson). @default all 0 */
  readonly offset?: Float64Array;
}

/**
 * Checks the shapes and values of a design: lengths agree, every value is finite, weights are > 0 and the outcome
 * is valid for the family (checked by the caller through `validOutcome`).
 * @throws RangeError naming the array and the first bad index (never the value: designs hold row-level data)
 */
export function checkDesign(d: GlmDesign, validOutcome: (y: number) => boolean): void {
  if (!Number.isSafeInteger(d.n) || d.n < 0) throw new RangeError(`design.n must be an integer >= 0, got ${d.n}`);
  if (!Number.isSafeInteger(d.p) || d.p < 1) throw new RangeError(`design.p must be an integer >= 1, got ${d.p}`);
  if (d.x.length !== d.n * d.p) throw new RangeError(`design.x has length ${d.x.length}, expected n·p = ${d.n * d.p}`);
  if (d.y.length !== d.n) throw new RangeError(`design.y has length ${d.y.length}, expected n = ${d.n}`);
  if (d.weights && d.weights.length !== d.n) throw new RangeError(`design.weights has length ${d.weights.length}, expected n = ${d.n}`);
  if (d.offset && d.offset.length !== d.n) throw new RangeError(`design.offset has length ${d.offset.length}, expected n = ${d.n}`);
  for (let i = 0; i < d.x.length; i++) if (!Number.isFinite(d.x[i]!)) throw new RangeError(`design.x: row ${Math.floor(i / d.p)}, column ${i % d.p} is not finite`);
  for (let i = 0; i < d.n; i++) if (!validOutcome(d.y[i]!)) throw new RangeError(`design.y: row ${i} is not a valid outcome for the family`);
  if (d.weights) for (let i = 0; i < d.n; i++) if (!(Number.isFinite(d.weights[i]!) && d.weights[i]! > 0)) throw new RangeError(`design.weights: row ${i} is not a finite weight > 0`);
  if (d.offset) for (let i = 0; i < d.n; i++) if (!Number.isFinite(d.offset[i]!)) throw new RangeError(`design.offset: row ${i} is not finite`);
}

/** Rows [from, to) of a design as a new design (copies; for splitting one design across simulated parties). */
export function sliceDesign(d: GlmDesign, from: number, to: number): GlmDesign {
  const out: { -readonly [K in keyof GlmDesign]: GlmDesign[K] } = {
    n: to - from,
    p: d.p,
    x: d.x.slice(from * d.p, to * d.p),
    y: d.y.slice(from, to),
  };
  if (d.weights) out.weights = d.weights.slice(from, to);
  if (d.offset) out.offset = d.offset.slice(from, to);
  return out;
}
