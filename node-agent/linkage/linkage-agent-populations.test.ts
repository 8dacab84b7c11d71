/**
 * Red-team F4 through a real agent: the agent hands each product's published population (its catalogue, from the
 * manifest) to the linkage scope, so a linkage-bounded task's connection reads each product with the persons of its
 * own population. A person registry (`persons`, population person) and a device registry (`devices`, population
 * device) both number their units from 1, so both have a unit 17. The task connection is the one every kind gets: the
 * agent's own consent-wrapped database inside its consent scope's `run` with the job's linkage (what serveTask does).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDatabase } from '../data/database.js';
import type { ConsentScopes } from '../policy/consent-context.js';
import { Agent } from '../agent.js';

const LINKAGE = { sites: ['s1'], salt: '00112233445566778899aabbccddeeff' };

describe('a linkage-bounded task at an agent with two populations sharing ids (red-team F4)', () => {
  let dir: string;
  const agents: Agent[] = [];

  /** An agent over persons.csv and devices.csv (both keyed), the devices declared as population `device` unless not. */
  async function agentWith(name: string, devices: string, declareDevice = true): Promise<Agent> {
    const data = join(dir, name, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'persons.csv'), 'person_id,lk,x\n17,kA,1\n');
    await writeFile(join(data, 'devices.csv'), `device_id,lk,y\n${devices}`);
    const products = { persons: { privacyUnit: 'person_id', linkageKey: 'lk' }, devices: { privacyUnit: 'device_id', linkageKey: 'lk', ...(declareDevice ? { population: 'device' } : {}) } };
    await writeFile(join(data, 'fedmesh.products.json'), JSON.stringify({ version: 1, products }));
    const a = await Agent.create({ name: 's1', dataDir: data, stateDir: join(dir, name, 'state'), coordinator: '127.0.0.1:1', insecure: true });
    agents.push(a);
    return a;
  }

  /** The device ids a linkage-bounded task's connection reads at `agent` (the agent's own wrapped database and scope). */
  async function devicesRead(agent: Agent): Promise<number[]> {
    // The agent's private handles, reached as a task reaches them: serveTask runs every task inside consent.run.
    const inner = agent as unknown as { db: AgentDatabase; consent: ConsentScopes };
    return inner.consent.run('HRESCH', () => inner.db.withConnection(async (c) => (await c.runAndReadAll('SELECT device_id FROM devices ORDER BY device_id')).getRowObjectsJS().map((r) => Number(r.device_id))), LINKAGE);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-linkage-pop-'));
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("leaves out device 17 without a key although person 17 has one, and keeps device 17 whose key differs from person 17's", async () => {
    const unkeyed = await agentWith('unkeyed', '17,,1\n18,kD18,1\n');
    expect(unkeyed.registration().products.find((p) => p.name === 'devices')?.metadata.population).toBe('device');
    expect(await devicesRead(unkeyed)).toEqual([18]);
    const keyed = await agentWith('keyed', '17,kB,1\n');
    expect(await devicesRead(keyed)).toEqual([17]);
  });

  it('negative control: with no population declared the two registries are one population, and the old per-person rules apply', async () => {
    // Device 17 is then person 17: kept through the person's key when it has none, dropped for a second key.
    expect(await devicesRead(await agentWith('one-unkeyed', '17,,1\n18,kD18,1\n', false))).toEqual([17, 18]);
    expect(await devicesRead(await agentWith('one-keyed', '17,kB,1\n', false))).toEqual([]);
  });
});
