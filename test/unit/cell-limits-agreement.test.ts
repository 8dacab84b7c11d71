import { describe, expect, it } from 'vitest';
import { CELL_JOB_LIMITS, parseJobSpec } from '../../common/job/index.js';
import { compileCharacterizeOptions } from '../../node-agent/analytics/characterize.js';
import { survivalTimeGrid } from '../../node-agent/analytics/survival.js';

/**
 * The coordinator's parser and the agent accept the same cell-job parameters at the limits (issue 15 items 2, 5):
 * whatever the coordinator admits (and charges), the agent computes. Negative control: with the parser's old
 * "any safe integer" checks, the out-of-range cases below parse at the coordinator while the agent refuses them.
 */
const gi = { name: 'GI', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } };
const privacy = { mode: 'central-dp', epsilon: 1, delta: 1e-6 };
const accepts = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};
const W = CELL_JOB_LIMITS.maxWindowDays;
const D = CELL_JOB_LIMITS.maxSurvivalDays;
const A = CELL_JOB_LIMITS.maxAgeEdge;

describe('cell-job limits agree between coordinator and agent', () => {
  it.each([[[-W, W]], [[-W - 1, 0]], [[0, W + 1]], [[-1e12, 0]], [[5, 1]]])('windowDays %j', (windowDays) => {
    const coordinator = accepts(() => parseJobSpec({ kind: 'characterize', definition: gi, conditionConcepts: [1], windowDays, privacy }));
    const agent = accepts(() => compileCharacterizeOptions({ conditionConcepts: [1], windowDays: windowDays as [number, number] }));
    expect(coordinator).toBe(agent);
  });

  it.each([[[0, A]], [[0, A + 1]], [[0, 18, 2 ** 40]]])('ageBands %j', (ageBands) => {
    const coordinator = accepts(() => parseJobSpec({ kind: 'characterize', definition: gi, conditionConcepts: [1], ageBands, privacy }));
    const agent = accepts(() => compileCharacterizeOptions({ conditionConcepts: [1], ageBands }));
    expect(coordinator).toBe(agent);
  });

  it.each([[200, D], [200, D + 1], [365, 1e9]])('timeGrid binDays %d maxDays %d: the coordinator admits only what the agent computes', (binDays, maxDays) => {
    const coordinator = accepts(() => parseJobSpec({ kind: 'survival', target: gi, outcome: { definition: gi }, timeGrid: { binDays, maxDays }, privacy }));
    const agent = accepts(() => survivalTimeGrid(binDays, maxDays));
    if (coordinator) expect(agent).toBe(true);
    expect(coordinator).toBe(maxDays <= D);
  });
});
