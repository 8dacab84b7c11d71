import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import { admitSecure, roundDeadline } from './admit-secure.js';

/** Secure admission in process (issue 9, test pyramid): public layout and charge before anything is stored. */
const agent = (name: string, identity = true): AgentView => ({
  name,
  domain: name,
  connected: true,
  connectedSinceMs: 0,
  lastHeartbeatMs: 0,
  products: [{ name: 'person', columns: [{ name: 'age', type: 'BIGINT' }], privacyUnit: 'person_id', description: '', metadata: {} }],
  version: 'test',
  policy: { minCellSize: 5, allowModes: ['none', 'distributed-dp'], allowKinds: ['aggregate'], secureMaxRows: 1000 },
  ...(identity ? { identity: { agent: name } as unknown as NonNullable<AgentView['identity']> } : {}),
});
const spec = (privacy: Record<string, unknown>): ReturnType<typeof parseJobSpec> => parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'sum', column: 'age', bounds: [0, 100] }], privacy, secure: 'secagg' });

describe('admitSecure', () => {
  it('orders participants by name, plans the vector and charges only distributed-dp', () => {
    const none = admitSecure(spec({ mode: 'none' }), [agent('c'), agent('a'), agent('b')]);
    expect(none.agents.map((a) => a.name)).toEqual(['a', 'b', 'c']);
    expect(none.cost).toBeUndefined();
    expect(none.vectorLength).toBeGreaterThan(0);
    expect([none.threshold, none.requiredContributors]).toEqual([2, 3]);
    const ddp = admitSecure({ ...spec({ mode: 'distributed-dp', rho: 0.5 }), secureMaxRows: 1000 }, [agent('a'), agent('b'), agent('c'), agent('d')]);
    expect(ddp.cost!.rho).toBeGreaterThan(0);
    expect(ddp.cost!.rho).toBeLessThanOrEqual(0.5);
  });

  it('negative: agents without a certificate-vouched identity key, too few agents, or an HE job without its key are refused', () => {
    expect(() => admitSecure(spec({ mode: 'none' }), [agent('a'), agent('b', false), agent('c')])).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION', field: 'secure', message: expect.stringContaining('b registered without one') }));
    expect(() => admitSecure(spec({ mode: 'none' }), [agent('a'), agent('b')])).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION', field: 'agents' }));
    const he = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, secure: 'he' });
    expect(() => admitSecure(he, [agent('a'), agent('b'), agent('c')])).toThrow(expect.objectContaining({ code: 'INVALID_JOB', field: 'he' }));
  });
});

describe('roundDeadline', () => {
  it('gives each round its weighted share of the time left, never past the job deadline', () => {
    const now = Date.now();
    const end = now + 60_000;
    const first = roundDeadline(end, [2, 1, 1], 0);
    // Two shares of four of the ~60 s left (the clock moves a little between the two readings).
    expect(first - now).toBeGreaterThanOrEqual(29_900);
    expect(first - now).toBeLessThanOrEqual(30_100);
    expect(roundDeadline(end, [2, 1, 1], 2)).toBe(end);
    // Negative: a job already past its deadline gets no time, not a negative or later deadline.
    const past = now - 1000;
    expect(roundDeadline(past, [1, 1], 0)).toBe(past);
  });
});
