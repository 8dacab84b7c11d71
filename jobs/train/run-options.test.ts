/** `quorum` and `agents` in a train spec (the --quorum and --agents flags): refused naming the field when bad. */
import { describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { admitKindJob } from '../../coordinator/rounds/kind-admission.js';
import { trainKind } from './index.js';
import { parseTrainSpec } from './spec.js';

const ok = {
  kind: 'train',
  product: 'p',
  label: 'y',
  features: [{ column: 'x', type: 'numeric', bounds: [0, 1] }],
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
};

const fieldOf = (over: Record<string, unknown>): string | undefined => {
  try {
    parseTrainSpec({ ...ok, ...over });
    return undefined;
  } catch (e) {
    if (isFedmeshError(e)) return e.field;
    throw e;
  }
};

describe('train quorum and agents', () => {
  it('quorum is participation.minUpdates; agents are kept sorted and compiled into the job', () => {
    expect(parseTrainSpec({ ...ok, quorum: 2 }).participation.minUpdates).toBe(2);
    expect(parseTrainSpec({ ...ok, quorum: 2, participation: { minUpdates: 2 } }).participation.minUpdates).toBe(2);
    const s = parseTrainSpec({ ...ok, agents: ['t3', 't1'] });
    expect(s.agents).toEqual(['t1', 't3']);
    expect(parseTrainSpec(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(compileKindJob(trainKind, { ...ok, agents: ['t3', 't1'] }).agents).toEqual(['t1', 't3']);
    expect(compileKindJob(trainKind, ok).agents).toBeUndefined();
  });

  it('bad values are refused naming the field', () => {
    expect(fieldOf({ quorum: 0 })).toBe('quorum');
    expect(fieldOf({ quorum: 1.5 })).toBe('quorum');
    expect(fieldOf({ quorum: 3, participation: { minUpdates: 2 } })).toBe('quorum');
    expect(fieldOf({ agents: [] })).toBe('agents');
    expect(fieldOf({ agents: ['a', 'a'] })).toBe('agents[1]');
    expect(fieldOf({ agents: ['a', 'b c'] })).toBe('agents[1]');
    expect(fieldOf({ agents: ['a'], quorum: 2 })).toBe('quorum');
    // Negative control: the same values in range pass.
    expect(fieldOf({ agents: ['a', 'b'], quorum: 2 })).toBeUndefined();
  });

  it('admission asks only the named agents, and refuses a name that does not serve the product', () => {
    const member = (name: string, products: string[]) => ({ name, products, lastHeartbeatMs: 0 }) as never;
    const live = (name: string) => ({ name, products: [{ name: 'p', metadata: {} }], policy: { allowKinds: ['train'], allowModes: ['none'] } }) as never;
    const members = [member('t1', ['p']), member('t2', ['p']), member('t3', ['p']), member('x', ['q'])];
    const connected = [live('t1'), live('t2'), live('t3')];
    const all = admitKindJob(compileKindJob(trainKind, ok), members, connected);
    expect(all.agents.map((a) => a.name)).toEqual(['t1', 't2', 't3']);
    const two = admitKindJob(compileKindJob(trainKind, { ...ok, agents: ['t1', 't3'] }), members, connected);
    expect(two.agents.map((a) => a.name)).toEqual(['t1', 't3']);
    // A named agent that is not live is refused before anything is charged; one not serving the product too.
    const down = (() => {
      try {
        admitKindJob(compileKindJob(trainKind, { ...ok, agents: ['t1', 't3'] }), members, [live('t1'), live('t2')]);
      } catch (e) {
        return isFedmeshError(e) ? e.code : String(e);
      }
      return 'admitted';
    })();
    expect(down).toBe('QUORUM_NOT_MET');
    // Not named, not live: no obstacle (t2 is down, the job names t1 and t3).
    expect(admitKindJob(compileKindJob(trainKind, { ...ok, agents: ['t1', 't3'] }), members, [live('t1'), live('t3')]).agents.length).toBe(2);
    expect(() => admitKindJob(compileKindJob(trainKind, { ...ok, agents: ['t1', 'x'] }), members, connected)).toThrow(/agents\[1\]: "x" is not a member agent serving product "p"/);
  });

  it('a quorum above the serving agents is refused naming the field the researcher set, not the seam\'s minAgents', () => {
    const member = (name: string, products: string[]) => ({ name, products, lastHeartbeatMs: 0 }) as never;
    const live = (name: string) => ({ name, products: [{ name: 'p', metadata: {} }], policy: { allowKinds: ['train'], allowModes: ['none'] } }) as never;
    const members = [member('t1', ['p']), member('t2', ['p'])];
    const e = (() => {
      try {
        admitKindJob(compileKindJob(trainKind, { ...ok, quorum: 3 }), members, [live('t1'), live('t2')]);
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(isFedmeshError(e) && e.code).toBe('QUORUM_NOT_MET');
    expect((e as { field: string }).field).toBe('participation.minUpdates');
    expect((e as Error).message).toBe('participation.minUpdates: 2 agents serve product p, the job needs at least 3');
    // Control: a quorum the two agents meet is admitted.
    expect(admitKindJob(compileKindJob(trainKind, { ...ok, quorum: 2 }), members, [live('t1'), live('t2')]).agents.length).toBe(2);
  });
});
