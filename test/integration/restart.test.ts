import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../../coordinator/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { Agent } from '../../node-agent/index.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { sharedCerts } from '../helpers/mesh.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('coordinator restart', () => {
  let dir: string;
  let tlsDir: string;
  let agent: Agent;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-restart-'));
    tlsDir = await sharedCerts(['a1']);
  });
  afterAll(async () => {
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('jobs survive a restart and agents reconnect by themselves to the same address', async () => {
    const state = join(dir, 'coord');
    let coordinator = await Coordinator.create({ stateDir: state, heartbeatIntervalMs: 200 });
    let server: RunningServer = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
    const port = server.port;
    const data = join(dir, 'data');
    await writePersonCsv(data, makePersons(80, 3));
    agent = await Agent.create({ name: 'a1', dataDir: data, stateDir: join(dir, 'agent'), coordinator: `127.0.0.1:${port}`, tls: loadTlsMaterial(tlsDir, 'agent', 'a1'), policy: { allowModes: ['none'] } });
    agent.start();
    await waitFor(() => coordinator.registry.connected().length === 1, 10_000);
    let client = new CoordinatorClient({ address: `127.0.0.1:${port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    const first = await client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(first.state).toBe('succeeded');
    client.close();

    await coordinator.close();
    await server.close();

    coordinator = await Coordinator.create({ stateDir: state, heartbeatIntervalMs: 200 });
    server = await startCoordinatorServer(coordinator, { listen: `127.0.0.1:${port}`, tls: loadTlsMaterial(tlsDir, 'coordinator') });
    client = new CoordinatorClient({ address: `127.0.0.1:${port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    const again = await client.getJob(first.jobId);
    expect(again.state).toBe('succeeded');
    expect(again.result!.rows).toEqual(first.result!.rows);
    expect(again.agents).toEqual(first.agents);

    await waitFor(() => coordinator.registry.connected().length === 1, 15_000);
    const second = await client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(second.result!.rows[0]!.count).toBe(80);
    expect((await client.listJobs()).map((j) => j.jobId)).toEqual([second.jobId, first.jobId]);
    client.close();
    await coordinator.close();
    await server.close();
  });
});
