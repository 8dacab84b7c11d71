/**
 * The flat vector layout of `GlmLocalStats`: named blocks in a fixed order, so that the round runner can treat a
 * GLM round like any other job kind's statistics vector (add, mask, encrypt, noise per block) and turn the sum
 * back into statistics. The layout depends only on p (public).
 */
import { emptyLocalStats, packedLength, type GlmLocalStats } from './local-stats.js';

export const GLM_SCALAR_BLOCKS = ['n', 'sumW', 'sumWY', 'sumWOffset', 'sumLogW', 'deviance', 'logLik', 'nullInfo', 'nullScore', 'nullDeviance'] as const;
export type GlmScalarBlock = (typeof GLM_SCALAR_BLOCKS)[number];
export type GlmBlockName = GlmScalarBlock | 'info' | 'rhs';

export interface GlmBlock {
  readonly name: GlmBlockName;
  readonly offset: number;
  readonly length: number;
}

/** Blocks in vector order: info (packed XᵀWX), rhs, then the scalars in `GLM_SCALAR_BLOCKS` order. */
export function glmStatLayout(p: number): readonly GlmBlock[] {
  const blocks: GlmBlock[] = [];
  let off = 0;
  const add = (name: GlmBlockName, length: number): void => {
    blocks.push({ name, offset: off, length });
    off += length;
  };
  add('info', packedLength(p));
  add('rhs', p);
  for (const s of GLM_SCALAR_BLOCKS) add(s, 1);
  return blocks;
}

export function glmStatLength(p: number): number {
  return packedLength(p) + p + GLM_SCALAR_BLOCKS.length;
}

/** Statistics → flat vector (layout `glmStatLayout(p)`). */
export function glmStatsToVector(s: GlmLocalStats): Float64Array {
  const p = s.p;
  const v = new Float64Array(glmStatLength(p));
  v.set(s.info, 0);
  v.set(s.rhs, packedLength(p));
  let i = packedLength(p) + p;
  for (const name of GLM_SCALAR_BLOCKS) v[i++] = s[name];
  return v;
}

/**
 * Flat vector (e.g. the sum over agents, after noise) → statistics.
 * @throws RangeError if the length does not match p
 */
export function glmStatsFromVector(p: number, v: ArrayLike<number>): GlmLocalStats {
  if (v.length !== glmStatLength(p)) throw new RangeError(`glmStatsFromVector: length ${v.length}, expected ${glmStatLength(p)} for p = ${p}`);
  const s = emptyLocalStats(p);
  const pl = packedLength(p);
  for (let i = 0; i < pl; i++) s.info[i] = v[i]!;
  for (let j = 0; j < p; j++) s.rhs[j] = v[pl + j]!;
  let i = pl + p;
  for (const name of GLM_SCALAR_BLOCKS) s[name] = v[i++]!;
  return s;
}
