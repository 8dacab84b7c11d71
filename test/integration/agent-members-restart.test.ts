/**
 * Issue 14 item 4: membership survives a coordinator restart. An agent that registered and is down when the
 * coordinator comes back still counts in default quorums (otherwise it would silently drop out of every result),
 * until an administrator removes it; the removal survives a restart too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRegistration } from '../../common/agent-protocol.js';
import { Coordinator } from '../../coordinator/index.js';

const registration = (name: string): AgentRegistration => ({
  name,
  domain: `${name}-domain`,
  version: '0.1.0',
  policy: { minCellSize: 1, allowModes: ['none'], allowKinds: [] },
  products: [{ name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }], privacyUnit: 'person_id', description: '', metadata: {} }],
});
const job = JSON.stringify({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
const admin = { name: 'admin', isAdmin: true };

describe('mesh membership across coordinator restarts', () => {
  let dir: string;
  const open = (): Promise<Coordinator> => Coordinator.create({ stateDir: join(dir, 'state'), heartbeatIntervalMs: 200, processMetrics: false });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-members-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a member down at restart is listed not live and blocks default quorums until an administrator removes it', async () => {
    let c = await open();
    for (const n of ['a1', 'a2']) c.agentAttached(n, registration(n), () => undefined, () => undefined);
    expect(c.listAgents().map((a) => [a.name, a.connected])).toEqual([['a1', true], ['a2', true]]);
    await c.close();

    c = await open();
    try {
      const listed = c.listAgents();
      expect(listed.map((a) => [a.name, a.connected, a.member?.products])).toEqual([['a1', false, ['person']], ['a2', false, ['person']]]);
      expect(listed[0]!.member).toMatchObject({ domain: 'a1-domain', notLiveReason: 'the coordinator shut down' });
      // a1 comes back, a2 does not: the default quorum refuses the job, naming a2.
      c.agentAttached('a1', registration('a1'), () => undefined, () => undefined);
      await expect(c.submitJob('researcher', job)).rejects.toThrow(/1 of 2 are not live — a2: not live since \S+ \(the coordinator shut down; last heartbeat/);
      await expect(c.removeAgent({ name: 'researcher', isAdmin: false }, 'a2')).rejects.toThrow(/only an administrator/);
      await expect(c.removeAgent(admin, 'a1')).rejects.toThrow(/agent a1 is live/);
      await c.removeAgent(admin, 'a2');
      expect(c.listAgents().map((a) => a.name)).toEqual(['a1']);
    } finally {
      await c.close();
    }

    // The removal is durable; a1 (a member) is remembered as not live.
    c = await open();
    try {
      expect(c.listAgents().map((a) => [a.name, a.connected])).toEqual([['a1', false]]);
    } finally {
      await c.close();
    }
  });
});
