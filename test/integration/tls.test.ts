import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Agent } from '../../node-agent/index.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

describe('mutual TLS', () => {
  let mesh: TestMesh;
  let rogueDir: string;
  let address: string;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    address = `127.0.0.1:${mesh.server.port}`;
    rogueDir = await mkdtemp(join(tmpdir(), 'fedmesh-rogue-'));
    // A second CA with the same names: valid-looking certificates the mesh never issued.
    await makeDevCertificates({ outDir: rogueDir, agents: ['a1'], researchers: ['researcher'] });
  });
  afterAll(async () => mesh?.close());

  it('a client without a certificate is refused', async () => {
    const c = new CoordinatorClient({ address, tls: undefined, callTimeoutMs: 5000 });
    await expect(c.listAgents()).rejects.toMatchObject({ code: 'COORDINATOR_UNAVAILABLE' });
    c.close();
  });

  it('a client with a certificate from another CA is refused', async () => {
    const ca = loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher').ca;
    const rogue = { ...loadTlsMaterial(rogueDir, 'researcher', 'researcher'), ca };
    const c = new CoordinatorClient({ address, tls: rogue, callTimeoutMs: 5000 });
    await expect(c.listAgents()).rejects.toThrow(/unreachable|handshake|refused|certificate/i);
    c.close();
  });

  it('a researcher with a valid certificate is served and identified by it', async () => {
    const c = new CoordinatorClient({ address, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    expect(await c.listAgents()).toEqual([]);
    c.close();
  });

  it('an agent certificate cannot call the researcher API', async () => {
    const c = new CoordinatorClient({ address, tls: loadTlsMaterial(mesh.tlsDir, 'agent', 'a1') });
    await expect(c.listAgents()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    c.close();
  });

  it('an agent is known by its certificate: claiming another name is refused', async () => {
    const dir = join(mesh.dir, 'data', 'imp');
    await writePersonCsv(dir, makePersons(20, 5));
    const events: string[] = [];
    const agent = await Agent.create({
      name: 'a2', // claims a2 ...
      dataDir: dir,
      stateDir: join(mesh.dir, 'imp-state'),
      coordinator: address,
      tls: { ...loadTlsMaterial(mesh.tlsDir, 'agent', 'a1'), name: 'a2' }, // ... but holds a1's certificate
      log: (e, f) => events.push(`${e} ${JSON.stringify(f)}`),
    });
    agent.start();
    await new Promise((r) => setTimeout(r, 500));
    expect(mesh.coordinator.registry.connected()).toEqual([]);
    expect(events.join('\n')).toMatch(/claims name a2 but its certificate is issued to a1/);
    await agent.stop();
  });
});
