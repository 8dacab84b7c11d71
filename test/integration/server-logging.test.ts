import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { clientCredentials, clientChannelOptions, fedmeshV1 } from '../../common/transport/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

type Line = { event: string; fields?: Record<string, unknown> };

/** Waits until a log line matching `pred` appears (bounded). */
async function logged(lines: Line[], pred: (l: Line) => boolean, timeoutMs = 5000): Promise<Line> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = lines.find(pred);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`not logged within ${timeoutMs} ms; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Issue 8, item 10: the server logs refused handshakes, UNAUTHENTICATED calls and INTERNAL errors with their cause. */
describe('server-side logging of refusals and internal errors', () => {
  let mesh: TestMesh;
  let address: string;
  const lines: Line[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'], coordinatorLog: (event, fields) => lines.push({ event, ...(fields ? { fields } : {}) }) });
    address = `127.0.0.1:${mesh.server.port}`;
  });
  afterAll(async () => mesh?.close());

  it('a TLS handshake without a client certificate is refused and logged with its reason', async () => {
    const c = new CoordinatorClient({ address, tls: { ...loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher'), key: '', cert: '' } as never, callTimeoutMs: 3000 });
    await expect(c.listAgents()).rejects.toMatchObject({ code: 'COORDINATOR_UNAVAILABLE' });
    c.close();
    const l = await logged(lines, (x) => x.event === 'tls-handshake-refused');
    expect(l.fields!.remote).toMatch(/127\.0\.0\.1/);
    expect(String(l.fields!.reason)).toMatch(/CERT|certificate|HANDSHAKE|ECONNRESET|SSL/i);
  });

  it('a certificate from another CA is refused and logged', async () => {
    const before = lines.filter((x) => x.event === 'tls-handshake-refused').length;
    const rogueDir = await mkdtemp(join(tmpdir(), 'fedmesh-rogue-log-'));
    await makeDevCertificates({ outDir: rogueDir, agents: ['a1'], researchers: ['researcher'] });
    const rogue = { ...loadTlsMaterial(rogueDir, 'researcher', 'researcher'), ca: loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher').ca };
    const c = new CoordinatorClient({ address, tls: rogue, callTimeoutMs: 3000 });
    await expect(c.listAgents()).rejects.toMatchObject({ code: 'COORDINATOR_UNAVAILABLE' });
    c.close();
    await logged(lines, () => lines.filter((x) => x.event === 'tls-handshake-refused').length > before);
  });

  it('an UNAUTHENTICATED call (an agent certificate on the researcher API) is logged with the method and role', async () => {
    const c = new CoordinatorClient({ address, tls: loadTlsMaterial(mesh.tlsDir, 'agent', 'a1') });
    await expect(c.listJobs()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    c.close();
    const l = await logged(lines, (x) => x.event === 'call-refused' && x.fields?.method === 'ListJobs');
    expect(l.fields).toMatchObject({ role: 'agent' });
  });

  it('a researcher certificate on the agent link is refused and logged', async () => {
    const tls = loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice');
    const Ctor = fedmeshV1().AgentLink!;
    const client = new Ctor(address, clientCredentials(tls), clientChannelOptions(address, true)) as unknown as grpc.Client & { connect(): grpc.ClientDuplexStream<unknown, unknown> };
    const call = client.connect();
    const code = await new Promise<number>((resolve) => call.on('error', (e: grpc.ServiceError) => resolve(e.code)));
    client.close();
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
    const l = await logged(lines, (x) => x.event === 'call-refused' && x.fields?.method === 'AgentLink.Connect');
    expect(l.fields).toMatchObject({ role: 'researcher' });
  });

  it('an INTERNAL error is logged with its cause, and the caller gets no details', async () => {
    // Make the job store fail underneath the service: the caller must see a bare INTERNAL, the log the cause.
    const store = (mesh.coordinator as unknown as { store: { listSummaries: (...a: unknown[]) => Promise<unknown> } }).store;
    const original = store.listSummaries;
    store.listSummaries = () => Promise.reject(new Error('IO Error: could not read block 7 of coordinator.duckdb'));
    try {
      const err = await mesh.client.listJobs().catch((e: unknown) => e as { code: string; message: string });
      expect(err).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
    } finally {
      store.listSummaries = original;
    }
    const l = await logged(lines, (x) => x.event === 'internal-error');
    expect(l.fields).toMatchObject({ method: 'ListJobs', caller: 'researcher', error: 'Error' });
    expect(String(l.fields!.cause)).toContain('could not read block 7');
  });
});
