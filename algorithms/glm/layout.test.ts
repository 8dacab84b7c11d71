import { describe, expect, it } from 'vitest';
import { addLocalStats, glmFamily, glmLocalStats, glmStatLayout, glmStatLength, glmStatsFromVector, glmStatsToVector, packedIndex, packedLength } from './index.js';

describe('GLM statistics as a flat vector', () => {
  const design = (seed: number) => {
    const n = 30;
    const x = new Float64Array(n * 3);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 3] = 1;
      x[i * 3 + 1] = Math.sin(seed + i);
      x[i * 3 + 2] = Math.cos(seed * i);
      y[i] = (i + seed) % 4;
    }
    return { n, p: 3, x, y };
  };
  const input = { round: 2, beta: [0.1, -0.2, 0.3], nullBeta0: 0.5 } as const;

  it('round-trips and adds entry-wise exactly as addLocalStats does', () => {
    const fam = glmFamily('poisson');
    const a = glmLocalStats(design(1), fam, input);
    const b = glmLocalStats(design(2), fam, input);
    expect(glmStatsFromVector(3, glmStatsToVector(a))).toEqual(a);
    const va = glmStatsToVector(a);
    const vb = glmStatsToVector(b);
    const sum = va.map((v, i) => v + vb[i]!);
    expect(glmStatsFromVector(3, sum)).toEqual(addLocalStats(a, b));
    expect(va.length).toBe(glmStatLength(3));
    const layout = glmStatLayout(3);
    expect(layout.map((l) => l.name)).toEqual(['info', 'rhs', 'n', 'sumW', 'sumWY', 'sumWOffset', 'sumLogW', 'deviance', 'logLik', 'nullInfo', 'nullScore', 'nullDeviance']);
    expect(layout.reduce((s, l) => s + l.length, 0)).toBe(glmStatLength(3));
    expect(() => glmStatsFromVector(4, va)).toThrow(/expected/);
  });

  it('packs the upper triangle row by row', () => {
    const p = 4;
    const seen = new Set<number>();
    for (let j = 0; j < p; j++) for (let k = j; k < p; k++) seen.add(packedIndex(p, j, k));
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: packedLength(p) }, (_, i) => i));
    expect(packedIndex(p, 1, 1)).toBe(4);
  });
});
