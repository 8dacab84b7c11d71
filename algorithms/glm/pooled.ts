/**
 * `fitPooled`: the same rounds as a federated fit, run on one design held in one place. It is the reference the
 * federated fits are compared with, and what the tests compare with R's published output.
 */
import type { GlmDesign } from './design.js';
import type { GlmFamily } from './family.js';
import { advanceGlmFit, startGlmFit, type GlmFitOptions, type GlmFitState } from './fit.js';
import { addLocalStats, glmLocalStats, type GlmLocalOptions } from './local-stats.js';
import { glmSummary, type GlmSummary } from './summary.js';

export interface PooledFit {
  readonly state: GlmFitState;
  readonly summary: GlmSummary;
  /** Rounds run (iterations + 1, more if the null model with an offset needed them). */
  readonly rounds: number;
}

/**
 * Fits a GLM by the federated algorithm over one or more designs held locally (several designs = simulated
 * parties whose statistics are summed each round).
 * @throws GlmSingularDesignError for a singular design; RangeError for malformed designs or options
 */
export function fitPooled(designs: GlmDesign | readonly GlmDesign[], family: GlmFamily, terms: readonly string[], options: GlmFitOptions & GlmLocalOptions = {}): PooledFit {
  const parts = Array.isArray(designs) ? (designs as readonly GlmDesign[]) : [designs as GlmDesign];
  if (parts.length === 0) throw new RangeError('fitPooled: no designs');
  const p = parts[0]!.p;
  for (const d of parts) if (d.p !== p) throw new RangeError('fitPooled: designs have different column counts');
  const hasOffset = options.hasOffset ?? parts.some((d) => d.offset !== undefined);
  let step = startGlmFit(family, p, { ...options, hasOffset });
  let rounds = 0;
  const limit = 2 * (step.state.maxIterations + 2);
  while (!step.done) {
    if (rounds >= limit) throw new Error('fitPooled: round limit exceeded');
    const input = step.input;
    const stats = parts.map((d) => glmLocalStats(d, family, input, options)).reduce((a, b) => addLocalStats(a, b));
    step = advanceGlmFit(family, step.state, stats);
    rounds++;
  }
  return { state: step.state, summary: glmSummary(family, step.state, terms), rounds };
}
