import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { glmKind } from './index.js';
import { checkGlmRunOptions } from './run-options.js';
import { parseGlmSpec } from './spec.js';

const base = {
  kind: 'glm',
  product: 'study',
  family: 'binomial',
  outcome: 'y',
  covariates: [{ column: 'x1', type: 'numeric', bounds: [-2, 2] }],
  privacy: { mode: 'none' },
};

function refusal(patch: Record<string, unknown>): FedmeshError {
  try {
    parseGlmSpec({ ...base, ...patch });
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error(`accepted ${JSON.stringify(patch)}`);
}

describe('glm quorum and agents (run-options.ts)', () => {
  it('honours named agents: the compiled job runs on them (sorted), every one in every round', () => {
    const job = compileKindJob(glmKind, { ...base, agents: ['site-3', 'site-1'] });
    expect(job.agents).toEqual(['site-1', 'site-3']);
    expect(job.dropout).toBe('fail');
    expect(job.minAgents).toBe(1);
    // The order given does not change the plan the agents check by hash.
    expect(compileKindJob(glmKind, { ...base, agents: ['site-1', 'site-3'] }).hash).toBe(job.hash);
    // Negative control: another set is another job.
    expect(compileKindJob(glmKind, { ...base, agents: ['site-1', 'site-2'] }).hash).not.toBe(job.hash);
  });

  it('honours quorum as the floor of agents admitted, never as leave to drop one mid-fit', () => {
    const job = compileKindJob(glmKind, { ...base, quorum: 3 });
    expect(job.minAgents).toBe(3);
    expect(job.dropout).toBe('fail');
    expect(job.agents).toBeUndefined();
    // With named agents, a quorum equal to their number is accepted.
    const named = compileKindJob(glmKind, { ...base, quorum: 2, agents: ['a', 'b'] });
    expect(named.minAgents).toBe(2);
    expect(named.agents).toEqual(['a', 'b']);
    // Without either, the defaults of before: every serving agent, at least one.
    const plain = compileKindJob(glmKind, base);
    expect(plain.minAgents).toBe(1);
    expect(plain.agents).toBeUndefined();
  });

  it('refuses a quorum below the named agents (exactness), naming quorum, INVALID_JOB (INVALID_ARGUMENT on the wire)', () => {
    const e = refusal({ quorum: 2, agents: ['a', 'b', 'c'] });
    expect(e.code).toBe('INVALID_JOB');
    expect(e.field).toBe('quorum');
    expect(e.message).toMatch(/^quorum: 2 of 3 named agents would let the fit carry on without some of them; exact Fisher scoring needs the same agents in every round/);
  });

  it.each([
    [{ quorum: 4, agents: ['a', 'b', 'c'] }, 'quorum', /asks for 4 agents but the job names 3/],
    [{ agents: ['a', 'b', 'a'] }, 'agents[2]', /names a twice/],
    [{ agents: [] }, 'agents', /non-empty/],
    [{ agents: ['bad name'] }, 'agents[0]', /not a valid agent name/],
    [{ quorum: 0 }, 'quorum', /integer >= 1/],
    [{ quorum: 1.5 }, 'quorum', /integer >= 1/],
    [{ quorum: 1001 }, 'quorum', /at most 1000/],
  ])('refuses %j naming %s', (patch, field, message) => {
    const e = refusal(patch);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('checkGlmRunOptions leaves a spec without them alone', () => {
    expect(checkGlmRunOptions({})).toEqual({});
    expect(checkGlmRunOptions({ quorum: 2 })).toEqual({ quorum: 2 });
  });
});
