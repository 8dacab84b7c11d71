import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../../coordinator/index.js';
import { REGISTRATION_LIMITS } from '../../coordinator/registration-limits.js';
import { connectRawAgent, manyProducts, type RawAgent } from '../helpers/raw-agent.js';
import { sharedCerts } from '../helpers/mesh.js';

/** Polls `check` until it holds or `timeoutMs` passes (no fixed sleeps). */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Issue 8, item 8: registrations are bounded; disconnected agents lose their products. Issue 14 item 4: they stay
 * members (counted in default quorums) until an administrator removes them.
 */
describe('the agent registry, with fake agents over the real mTLS stream', () => {
  let dir: string;
  let tlsDir: string;
  let coordinator: Coordinator;
  let server: RunningServer;
  let client: CoordinatorClient;
  let address: string;
  const logs: { event: string; fields?: Record<string, unknown> }[] = [];
  const open: RawAgent[] = [];
  const agent = (name: string, products = manyProducts(3), extra?: Record<string, unknown>): RawAgent => {
    const a = connectRawAgent(address, tlsDir, name, products, extra);
    open.push(a);
    return a;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-registry-'));
    tlsDir = await sharedCerts(['a1', 'a2', 'a3', 'a4', 'rogue']);
    coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 500, log: (event, fields) => logs.push({ event, ...(fields ? { fields } : {}) }) });
    server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator'), insecure: false });
    address = `127.0.0.1:${server.port}`;
    client = new CoordinatorClient({ address, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
  });
  afterAll(async () => {
    for (const a of open) a.close();
    client?.close();
    await coordinator?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('too many products is refused with RESOURCE_EXHAUSTED naming the field and the limit; nothing is kept', async () => {
    const a = agent('a1', manyProducts(REGISTRATION_LIMITS.maxProducts + 1, 1, 10));
    const err = await a.registered.then(() => undefined, (e: unknown) => e as { code: string; message: string; details: { grpcStatus: string } });
    expect(err?.details.grpcStatus).toBe('RESOURCE_EXHAUSTED');
    expect(err?.message).toMatch(/register\.products: 513 products, over the limit of 512/);
    expect(await client.listAgents()).toEqual([]);
    expect(logs.some((l) => l.event === 'agent-link-refused' && l.fields?.code === 'RESOURCE_EXHAUSTED')).toBe(true);
  });

  it('too many columns, too much metadata and overlong names are refused, naming what is too big', async () => {
    const cols = agent('a1', manyProducts(1, REGISTRATION_LIMITS.maxColumnsPerProduct + 1));
    await expect(cols.registered).rejects.toThrow(/register\.products\[0\]\.columns: 1025 columns in product "product_0", over the limit of 1,024/);
    const meta = agent('a1', manyProducts(2, 2, REGISTRATION_LIMITS.maxMetadataBytesPerProduct + 1));
    await expect(meta.registered).rejects.toThrow(/register\.products\[0\]\.metadata_json: 131,073 bytes of metadata in product "product_0", over the limit of 131,072/);
    const long = agent('a1', [{ ...manyProducts(1)[0]!, name: 'p'.repeat(100_000) }]);
    const e = await long.registered.then(() => undefined, (x: unknown) => x as Error & { details: { grpcStatus: string } });
    expect(e?.details.grpcStatus).toBe('INVALID_ARGUMENT');
    expect(e!.message).toMatch(/register\.products\[0\]\.name: 100000 characters, at most 128 allowed/);
    expect(e!.message.length).toBeLessThan(300); // the name is echoed cut, not whole
    const total = agent('a1', manyProducts(70, 2, REGISTRATION_LIMITS.maxMetadataBytesPerProduct));
    await expect(total.registered).rejects.toThrow(/register\.products: more than 8,388,608 bytes in all/);
    expect(await client.listAgents()).toEqual([]);
  });

  it('a registration within the limits is served', async () => {
    const a = agent('a2', manyProducts(REGISTRATION_LIMITS.maxProducts, 2, 100));
    expect((await a.registered).agentId).toBe('a2');
    const listed = await client.listAgents();
    expect(listed.map((x) => [x.name, x.connected, x.products.length])).toEqual([['a2', true, 512]]);
    a.close();
    await until(async () => (await client.listAgents()).every((x) => !x.connected), 5000, 'a2 to disconnect');
  });

  it('registering again on one link is bounded: one over the limit within a minute drops the link with RESOURCE_EXHAUSTED (red team 38, F4: a flood of them grew coordinator memory); control: the limit is served', async () => {
    const a = agent('a4', manyProducts(2));
    await a.registered;
    const register = { register: { name: 'a4', domain: 'a4', version: 'raw', policyJson: JSON.stringify({ minCellSize: 10, allowModes: ['none'], allowKinds: ['aggregate'] }), products: manyProducts(2) } };
    const limit = REGISTRATION_LIMITS.maxReloadsPerMinute;
    for (let i = 0; i < limit; i++) a.send(register);
    // Control: the limit's reloads within the minute are served (the link stays; the agent is listed).
    await until(async () => logs.filter((l) => l.event === 'agent-updated' && l.fields?.agent === 'a4').length === limit, 30_000, `${limit} reloads of a4`);
    expect((await client.listAgents()).find((x) => x.name === 'a4')?.connected).toBe(true);
    a.send(register);
    await until(async () => logs.some((l) => l.event === 'agent-link-refused' && l.fields?.agent === 'a4'), 30_000, 'the one over the limit refused');
    const refused = logs.find((l) => l.event === 'agent-link-refused' && l.fields?.agent === 'a4')!;
    expect(refused.fields).toMatchObject({ code: 'RESOURCE_EXHAUSTED', reason: expect.stringMatching(new RegExp(`more than ${limit} registrations a minute on one link`)) as unknown });
    await until(async () => !(await client.listAgents()).find((x) => x.name === 'a4')?.connected, 10_000, 'a4 to be gone');
  }, 120_000);

  it('a disconnected agent is listed without products but stays a member: jobs on its product are refused until an administrator removes it', async () => {
    const stays = agent('a3', manyProducts(2));
    const leaves = agent('a4', [{ ...manyProducts(1)[0]!, name: 'only_at_a4' }]);
    await Promise.all([stays.registered, leaves.registered]);
    let listed = await client.listAgents();
    expect(listed.find((x) => x.name === 'a4')!.products.map((p) => p.name)).toEqual(['only_at_a4']);
    leaves.close();
    await until(async () => (await client.listAgents()).find((x) => x.name === 'a4')?.connected === false, 5000, 'a4 to disconnect');
    listed = await client.listAgents();
    const a4 = listed.find((x) => x.name === 'a4')!;
    expect(a4.products).toEqual([]);
    expect(a4).toMatchObject({ registeredProducts: ['only_at_a4'], notLiveReason: 'its stream closed' });
    expect(a4.notLiveSinceMs).toBeGreaterThan(0);
    expect(listed.filter((x) => x.connected).flatMap((x) => x.products.map((p) => p.name))).not.toContain('only_at_a4');
    // A job on a product only the gone agent served is refused under the default quorum, naming it and why.
    const job = { kind: 'aggregate', product: 'only_at_a4', measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
    await expect(client.submitJob(job)).rejects.toThrow(/quorum: by default every agent serving product only_at_a4 must answer, and 1 of 1 are not live — a4: not live since .*its stream closed/);
    // Only an administrator removes it; a researcher is refused and a live agent cannot be removed.
    await expect(client.removeAgent('a4')).rejects.toThrow(/only an administrator/);
    const admin = new CoordinatorClient({ address, tls: loadTlsMaterial(tlsDir, 'admin', 'admin') });
    try {
      await expect(admin.removeAgent('a3')).rejects.toThrow(/agent a3 is live/);
      await expect(admin.removeAgent('nobody')).rejects.toThrow(/not a member/);
      await admin.removeAgent('a4');
    } finally {
      admin.close();
    }
    expect((await client.listAgents()).some((x) => x.name === 'a4')).toBe(false);
    await expect(client.submitJob(job)).rejects.toThrow(/no connected agent serves product only_at_a4/);
    expect((await client.listAgents()).find((x) => x.name === 'a3')).toMatchObject({ connected: true });
  });

  it('a removed agent that registers again is a member again and serves its products', async () => {
    const again = agent('a4', [{ ...manyProducts(1)[0]!, name: 'only_at_a4' }]);
    await again.registered;
    expect((await client.listAgents()).find((x) => x.name === 'a4')).toMatchObject({ connected: true, products: [expect.objectContaining({ name: 'only_at_a4' })] });
  });
});
