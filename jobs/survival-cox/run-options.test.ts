/**
 * `agents` and `quorum` on a Cox job: before, the parser dropped both silently, so `"agents": ["c1"]` ran the fit on
 * every agent serving OMOP data. They now reach the compiled job (the round runner's agents and minAgents), and
 * therefore its hash. Control: a spec without them compiles as before (no agents, minAgents 1).
 */
import { describe, expect, it } from 'vitest';
import { compileKindJob } from '../../common/kinds/index.js';
import { coxKind } from './kind.js';

const raw = {
  kind: 'survival',
  target: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } },
  outcome: { domain: 'death', conceptIds: [] },
  timeGrid: { binDays: 10, maxDays: 40 },
  model: 'cox',
  covariates: [{ name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }],
  privacy: { mode: 'none' },
};

describe('survival-cox: named agents and quorum', () => {
  it('reach the compiled job', () => {
    const job = compileKindJob(coxKind, { ...raw, agents: ['c1', 'c2'], quorum: 2 });
    expect(job.agents).toEqual(['c1', 'c2']);
    expect(job.minAgents).toBe(2);
    expect(job.hash).not.toBe(compileKindJob(coxKind, raw).hash);
  });

  it('follow glm\'s rules: names sorted (the hash does not depend on their order), duplicates and a quorum below or above the named agents refused', () => {
    expect(compileKindJob(coxKind, { ...raw, agents: ['c2', 'c1'] }).hash).toBe(compileKindJob(coxKind, { ...raw, agents: ['c1', 'c2'] }).hash);
    expect(() => compileKindJob(coxKind, { ...raw, agents: ['c1', 'c1'] })).toThrow(/agents\[1\]: names c1 twice/);
    expect(() => compileKindJob(coxKind, { ...raw, agents: ['c1', 'c2'], quorum: 1 })).toThrow(/quorum: 1 of 2 named agents/);
    expect(() => compileKindJob(coxKind, { ...raw, agents: ['c1', 'c2'], quorum: 3 })).toThrow(/quorum: asks for 3 agents but the job names 2/);
  });

  it('control: without them, every serving agent and a floor of 1', () => {
    const job = compileKindJob(coxKind, raw);
    expect(job.agents).toBeUndefined();
    expect(job.minAgents).toBe(1);
  });
});
