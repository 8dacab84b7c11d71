import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { JobView } from '../../client/sdk/types.js';
import { FedmeshError } from '../../common/errors.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

async function refusal(p: Promise<unknown>): Promise<FedmeshError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error('expected the call to be refused');
}

/** Issue 8, item 2: each researcher sees only their own jobs; an administrator sees all (over mTLS). */
describe('job ownership over mTLS', () => {
  let mesh: TestMesh;
  let researcher: CoordinatorClient; // certificate CN=researcher
  let alice: CoordinatorClient; // certificate CN=alice
  let admin: CoordinatorClient; // certificate CN=admin, OU=admin
  let mine: JobView;
  let hers: JobView;
  const job = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const dir = join(mesh.dir, 'data', 'a1');
    await writePersonCsv(dir, makePersons(60, 3));
    await mesh.startAgent('a1', dir);
    await mesh.waitForAgents(1);
    const address = `127.0.0.1:${mesh.server.port}`;
    researcher = mesh.client;
    alice = new CoordinatorClient({ address, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    admin = new CoordinatorClient({ address, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    mine = await researcher.run(job);
    hers = await alice.run(job);
    expect(mine.state).toBe('succeeded');
    expect(hers.state).toBe('succeeded');
  });
  afterAll(async () => {
    alice?.close();
    admin?.close();
    await mesh?.close();
  });

  it("GetJob: another researcher's job is NOT_FOUND, with the message of an id that does not exist", async () => {
    const other = await refusal(researcher.getJob(hers.jobId));
    const none = await refusal(researcher.getJob('00000000-0000-4000-8000-000000000000'));
    expect(other.code).toBe('NOT_FOUND');
    expect(other.details.grpcStatus).toBe('NOT_FOUND');
    expect(other.message.replace(hers.jobId, 'ID')).toBe(none.message.replace('00000000-0000-4000-8000-000000000000', 'ID'));
    expect(other.message).not.toMatch(/alice|owner|another/i);
    expect((await alice.getJob(hers.jobId)).result!.rows[0]!.count).toBe(60);
  });

  it('WatchJob: the same rule', async () => {
    expect((await refusal(alice.watchJob(mine.jobId))).code).toBe('NOT_FOUND');
    expect((await researcher.watchJob(mine.jobId)).state).toBe('succeeded');
  });

  it('GetJobResult: the same rule', async () => {
    expect((await refusal(alice.getJobResult(mine.jobId))).code).toBe('NOT_FOUND');
    expect((await researcher.getJobResult(mine.jobId)).get('RESULT_PART_JSON')!.length).toBeGreaterThan(0);
  });

  it('ListJobs: only the caller’s own jobs', async () => {
    expect((await researcher.listJobs()).map((j) => j.jobId)).toEqual([mine.jobId]);
    expect((await alice.listJobs()).map((j) => j.jobId)).toEqual([hers.jobId]);
  });

  it('an administrator certificate sees every job', async () => {
    expect((await admin.listJobs()).map((j) => j.jobId).sort()).toEqual([mine.jobId, hers.jobId].sort());
    expect((await admin.getJob(hers.jobId)).researcher).toBe('alice');
    expect((await admin.getJob(mine.jobId)).result!.rows[0]!.count).toBe(60);
    expect((await admin.watchJob(hers.jobId)).state).toBe('succeeded');
  });

  it('the service layer enforces it, whatever the transport', async () => {
    const c = mesh.coordinator;
    await expect(c.getJob({ name: 'alice', isAdmin: false }, mine.jobId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(c.watchJob({ name: 'alice', isAdmin: false }, mine.jobId, () => undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await c.listJobs({ name: 'alice', isAdmin: false })).map((j) => j.id)).toEqual([hers.jobId]);
    expect((await c.getJob({ name: 'root', isAdmin: true }, mine.jobId)).id).toBe(mine.jobId);
  });
});
