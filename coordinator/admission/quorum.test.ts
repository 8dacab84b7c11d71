import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../common/job/index.js';
import type { JobSpec } from '../../common/job/index.js';
import type { AgentMember, AgentView } from '../agent-registry.js';
import { checkQuorum } from './quorum.js';

const T = Date.UTC(2026, 0, 1, 12, 0, 0);
const member = (name: string, products: string[], notLive = false): AgentMember => ({
  name,
  domain: name,
  products,
  registeredAtMs: T - 60_000,
  lastHeartbeatMs: T - 7_000,
  ...(notLive ? { notLiveSinceMs: T, notLiveReason: 'no heartbeat for more than 6000 ms' } : {}),
});
const liveView = (name: string): AgentView => ({ name, domain: name, connected: true, connectedSinceMs: T, lastHeartbeatMs: T, products: [], version: '', policy: { minCellSize: 1, allowModes: ['none'], allowKinds: [] } });
const count = (extra: Record<string, unknown> = {}) => parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, ...extra });
const members = [member('a1', ['person']), member('a2', ['person', 'visits']), member('a3', ['person'], true), member('b1', ['visits'], true)];
const live = [liveView('a1'), liveView('a2')];

describe('the quorum against the mesh members (issue 14 item 4)', () => {
  it('default quorum: a member serving the product that is not live refuses the job, naming it, since when and why', () => {
    expect(() => checkQuorum(count(), members, live)).toThrow(
      'quorum: by default every agent serving product person must answer, and 1 of 3 are not live — a3: not live since 2026-01-01T12:00:00Z (no heartbeat for more than 6000 ms; last heartbeat 2026-01-01T11:59:53Z). Nothing was charged',
    );
    try {
      checkQuorum(count(), members, live);
    } catch (e) {
      expect((e as { code: string; field: string })).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'quorum' });
    }
  });

  it('members serving other products, and members outside the agents the job names, do not count', () => {
    expect(checkQuorum(count({ agents: ['a1', 'a2'] }), members, live)).toEqual([]);
    expect(() => checkQuorum(parseJobSpec({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }], privacy: { mode: 'none' } }), members, live)).toThrow(/1 of 2 are not live — b1: not live/);
  });

  it('explicit quorum within the live agents: the job runs and the not-live members are returned to be reported', () => {
    expect(checkQuorum(count({ quorum: 2 }), members, live)).toEqual([{ agent: 'a3', reason: expect.stringMatching(/^not live since 2026-01-01T12:00:00Z \(no heartbeat/) }]);
  });

  it('explicit quorum above the live agents (but not above the members) is refused before charging, naming who is missing', () => {
    expect(() => checkQuorum(count({ quorum: 3 }), members, live)).toThrow(/^quorum: 3 agents required but only 2 of the 3 serving product person are live — a3: not live/);
  });

  it('contingency jobs count the members serving their product; cohort-level jobs those serving the OMOP core tables', () => {
    const contingency = parseJobSpec({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'year_of_birth', rowLevels: [1, 2], colLevels: [1, 2], privacy: { mode: 'none' } });
    expect(() => checkQuorum(contingency, members, live)).toThrow(/1 of 3 are not live — a3: /);
    const omop = [member('o1', ['person', 'observation_period']), member('o2', ['person', 'observation_period'], true), member('p1', ['person'], true)];
    // Only what checkQuorum reads of a cohort job: its kind (the definition is checked elsewhere).
    const cohort = { kind: 'cohort', privacy: { mode: 'none' } } as unknown as JobSpec;
    expect(() => checkQuorum(cohort, omop, [liveView('o1')])).toThrow(/every agent serving the OMOP CDM tables \(person, observation_period\) must answer, and 1 of 2 are not live — o2: /);
  });

  it('negative control: every serving member live, nothing to report', () => {
    expect(checkQuorum(count(), members.slice(0, 2), live)).toEqual([]);
  });
});
