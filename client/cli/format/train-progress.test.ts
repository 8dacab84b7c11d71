import { describe, expect, it } from 'vitest';
import { applyRoundsFlag } from '../commands/train-command.js';
import { foldTrainEvent, initialTrainProgress, privacyLabel, renderTrainProgress } from './train-progress.js';

describe('fedmesh train progress bar', () => {
  it('folds the coordinator events into rounds done, the last round line and the reserved privacy', () => {
    let s = foldTrainEvent(initialTrainProgress, { type: 'admitted', message: '3 agents, at most 11 rounds' });
    expect(renderTrainProgress(s, 'no DP (mode none)', 10)).toBe('train [░░░░░░░░░░] 0/11 · 3 agents, at most 11 rounds · no DP (mode none)');
    s = foldTrainEvent(s, { type: 'round', message: 'round 5 of at most 11: 3 agents answered; train loss 0.5123; model entering the round: test accuracy 0.7810' });
    expect(renderTrainProgress(s, 'central-dp: ε 3, δ 0.00001 reserved', 10)).toBe('train [█████░░░░░] 5/11 · 3 agents answered; train loss 0.5123; model entering the round: test accuracy 0.7810 · central-dp: ε 3, δ 0.00001 reserved');
    // Other events and unparsable messages leave the bar as it is (negative control: the state is not reset).
    expect(foldTrainEvent(s, { type: 'round', message: 'something else' })).toBe(s);
    expect(foldTrainEvent(s, { type: 'agent-answered', message: 'round 6' })).toBe(s);
    expect(foldTrainEvent(s, { type: 'agent-failed', agent: 't3', message: 'round 6: AGENT_UNAVAILABLE: gone' }).detail).toMatch(/^t3 dropped out/);
    expect(renderTrainProgress(initialTrainProgress, 'x')).toBe('train · submitting… · x');
  });

  it('states the privacy from the spec', () => {
    expect(privacyLabel({})).toBe('no DP (mode none)');
    expect(privacyLabel({ privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5 } })).toBe('central-dp: ε 3, δ 0.00001 reserved');
    expect(privacyLabel({ privacy: { mode: 'distributed-dp', rho: 0.5 } })).toBe('distributed-dp: ρ 0.5 reserved');
  });

  it('--rounds sets training.rounds and refuses what is not a positive integer, naming the flag', () => {
    const spec: Record<string, unknown> = { training: { rounds: 20, localEpochs: 2 } };
    applyRoundsFlag(spec, '5');
    expect(spec.training).toEqual({ rounds: 5, localEpochs: 2 });
    const bare: Record<string, unknown> = {};
    applyRoundsFlag(bare, '3');
    expect(bare.training).toEqual({ rounds: 3 });
    for (const bad of ['0', '-1', '2.5', 'ten', '']) expect(() => applyRoundsFlag({}, bad)).toThrow(/^--rounds: must be a positive integer/);
  });
});
