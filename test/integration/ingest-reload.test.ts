/**
 * Issue 14 item 12 over the real transport: an agent's ingest warnings and a failed OMOP ingest reach the
 * coordinator in its registration (bounded, coarsened, no values), and a reload re-registers the changed catalogue
 * on the live link: a new file becomes a product, a deleted file's product leaves the catalog and a job on it is
 * refused NOT_FOUND naming it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../common/tls.js';
import { Agent } from '../../node-agent/index.js';
import type { ReadWriteLock } from '../../node-agent/data-lock.js';
import type { AgentInfoView } from '../../client/sdk/types.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { connectRawAgent, manyProducts } from '../helpers/raw-agent.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

/** Polls the coordinator's agent list until `pred` holds for agent `name` (no fixed sleeps). */
async function until(mesh: TestMesh, name: string, pred: (a: AgentInfoView) => boolean, timeoutMs = 15_000): Promise<AgentInfoView> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const a = (await mesh.client.listAgents()).find((x) => x.name === name && x.connected);
    if (a && pred(a)) return a;
    if (Date.now() > end) throw new Error(`agent ${name} never reached the expected state: ${JSON.stringify(a?.ingest ?? a?.products.map((p) => p.name))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const PERSON = 'person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n';
const PERIOD = 'observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n1,1,2000-01-01,2010-01-01,0\n';

describe('ingest visibility and reload (issue 14 item 12)', () => {
  let mesh: TestMesh;
  let a1: Agent;
  let a1Data: string;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'], heartbeatIntervalMs: 200 });
    a1Data = join(mesh.dir, 'a1-data');
    await mkdir(a1Data, { recursive: true });
    await writePersonCsv(a1Data, makePersons(40, 7));
    await writeFile(join(a1Data, 'empty_t.csv'), 'a,b\n');
    a1 = await mesh.startAgent('a1', a1Data);
    await mesh.waitForAgents(1);
  }, 60_000);
  afterAll(async () => mesh?.close());

  it('shows the warnings of the data served in the registration', async () => {
    const a = await until(mesh, 'a1', (x) => x.ingest !== undefined);
    expect(a.ingest).toMatchObject({ state: 'warnings', failed: [], omitted: 0 });
    expect(a.ingest!.notices).toEqual([{ severity: 'warning', source: 'empty_t.csv', message: 'no data rows; product empty_t is served empty' }]);
    expect(a.ingest!.atMs).toBeGreaterThan(0);
  });

  it('says that an OMOP ingest failed, without the value at fault or the host path', async () => {
    const data = join(mesh.dir, 'a2-data');
    await mkdir(join(data, 'cdm'), { recursive: true });
    // A year of birth that is not a number: the whole CDM set is refused.
    await writeFile(join(data, 'cdm', 'person.csv'), `${PERSON}1,8507,1950,0,0\n2,8532,SECRET1961,0,0\n3,8532,1970,0,0\n`);
    await writeFile(join(data, 'cdm', 'observation_period.csv'), PERIOD);
    await mesh.startAgent('a2', data);
    const a = await until(mesh, 'a2', (x) => x.ingest !== undefined);
    expect(a.ingest!.state).toBe('failed');
    expect(a.ingest!.failed).toEqual(['omop']);
    expect(a.ingest!.notices[0]).toMatchObject({ severity: 'error', source: 'omop', message: expect.stringContaining('OMOP ingest failed') });
    expect(a.ingest!.notices).toContainEqual({ severity: 'error', source: 'cdm/person.csv', message: 'column year_of_birth: <10 bad value, expected an integer' });
    const wire = JSON.stringify(a);
    expect(wire).not.toContain('SECRET');
    expect(wire).not.toContain(mesh.dir);
    // Negative control: the agent's own log is where the line number lives (the coordinator never sees it).
    expect(mesh.agents.get('a2')!.lastIngest!.formats[0]!.issues).toContainEqual(expect.objectContaining({ line: 3 }));
  });

  it('a reload re-registers a new product, and a deleted file leaves the catalog and is refused NOT_FOUND', async () => {
    await writeFile(join(a1Data, 'labs.csv'), `person_id,value\n${Array.from({ length: 30 }, (_, i) => `${i + 1},${i}`).join('\n')}\n`);
    // Not before the reload: the agent serves what it read at its last (re)load.
    expect((await until(mesh, 'a1', () => true)).products.map((p) => p.name)).not.toContain('labs');
    expect(await a1.reload()).toBe(true);
    await until(mesh, 'a1', (x) => x.products.some((p) => p.name === 'labs'));
    const count = await mesh.client.run({ kind: 'aggregate', product: 'labs', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(count.result!.rows[0]!.count).toBe(30);

    // An unchanged folder: nothing to re-register.
    expect(await a1.reload()).toBe(false);

    await rm(join(a1Data, 'labs.csv'));
    await rm(join(a1Data, 'empty_t.csv'));
    expect(await a1.reload()).toBe(true);
    const after = await until(mesh, 'a1', (x) => !x.products.some((p) => p.name === 'labs'));
    expect(after.ingest).toMatchObject({ state: 'ok', notices: [] });
    await expect(mesh.client.submitJob({ kind: 'aggregate', product: 'labs', measures: [{ fn: 'count' }], privacy: { mode: 'none' } }))
      .rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no connected agent serves product labs') });
  }, 60_000);

  it('a reload waits for the task that is running, and the next task waits for the reload: one version each', async () => {
    await writeFile(join(a1Data, 'swap.csv'), `person_id,v\n${Array.from({ length: 20 }, (_, i) => `${i + 1},1`).join('\n')}\n`);
    await a1.reload();
    const rowCount = (a: AgentInfoView): unknown => (a.products.find((p) => p.name === 'swap')?.metadata.quality as { rowCount?: unknown } | undefined)?.rowCount;
    const count = (): Promise<unknown> => mesh.client.run({ kind: 'aggregate', product: 'swap', measures: [{ fn: 'sum', column: 'v', bounds: [0, 5] }, { fn: 'count' }], privacy: { mode: 'none' } }).then((r) => r.result!.rows[0]);
    expect(await count()).toMatchObject({ count: 20, sum_v: 20 });
    expect(rowCount(await until(mesh, 'a1', (a) => rowCount(a) !== undefined))).toBe(20);
    // New rows and new values: a task must see the old table or the new one, never part of each.
    await writeFile(join(a1Data, 'swap.csv'), `person_id,v\n${Array.from({ length: 50 }, (_, i) => `${i + 1},2`).join('\n')}\n`);
    const lock = (a1 as unknown as { dataLock: ReadWriteLock }).dataLock;
    let reload: Promise<boolean> | undefined;
    // A task in progress holds the read lock; the reload asked meanwhile must queue behind it.
    await lock.read(async () => {
      reload = a1.reload();
      const end = Date.now() + 10_000;
      while (lock.waiting === 0) {
        if (Date.now() > end) throw new Error('the reload did not wait for the running task');
        await new Promise((r) => setTimeout(r, 5));
      }
      // Still the old version while the task runs.
      expect(a1.lastIngest!.files.find((f) => f.product === 'swap')?.rows).toBe(20);
    });
    expect(await reload!).toBe(true);
    expect(await count()).toMatchObject({ count: 50, sum_v: 100 });
    // The quality metrics follow the data (they are reused only while a product is unchanged).
    await until(mesh, 'a1', (a) => rowCount(a) === 50);
  }, 60_000);

  it('a reload asked for during a reload runs once more after it; further asks share that one', async () => {
    const first = a1.reload();
    const second = a1.reload();
    const third = a1.reload();
    expect(second).not.toBe(first);
    expect(third).toBe(second);
    await writeFile(join(a1Data, 'late.csv'), 'person_id,n\n1,1\n');
    await Promise.all([first, second]);
    // Whichever reload saw it, the file written while the first one ran is served once both are done.
    expect(a1.listProducts().map((p) => p.name)).toContain('late');
  }, 60_000);

  it('--reload-interval-ms: an agent re-reads its folder by itself and the catalog follows', async () => {
    const data = join(mesh.dir, 'a3-data');
    await mkdir(data, { recursive: true });
    await writePersonCsv(data, makePersons(20, 3));
    await mkdir(join(mesh.dir, 'agents', 'a3'), { recursive: true });
    const agent = await Agent.create({
      name: 'a3', dataDir: data, stateDir: join(mesh.dir, 'agents', 'a3'), coordinator: `127.0.0.1:${mesh.server.port}`,
      tls: loadTlsMaterial(mesh.tlsDir, 'agent', 'a3'), policy: { allowModes: ['none'] }, reloadIntervalMs: 100,
    });
    mesh.agents.set('a3', agent);
    agent.start();
    await until(mesh, 'a3', (x) => x.products.some((p) => p.name === 'person'));
    await writeFile(join(data, 'visits.csv'), 'person_id,n\n1,2\n');
    await until(mesh, 'a3', (x) => x.products.some((p) => p.name === 'visits'));
    await expect(Agent.create({ name: 'bad', dataDir: data, stateDir: join(mesh.dir, 'bad'), coordinator: 'x:1', insecure: true, reloadIntervalMs: 5 }))
      .rejects.toThrow(/options\.reloadIntervalMs must be an integer of at least 100/);
  }, 60_000);

  it('a hostile registration: too many ingest notices, an unknown state, or registering again under another name are refused', async () => {
    const address = `127.0.0.1:${mesh.server.port}`;
    const notice = { severity: 'warning', source: 'x.csv', message: 'no data rows' };
    const flood = connectRawAgent(address, mesh.tlsDir, 'a4', manyProducts(1), { ingest: { state: 'warnings', notices: Array.from({ length: 21 }, () => notice) } });
    await expect(flood.registered).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('register.ingest.notices: 21 notices') });
    flood.close();
    const state = connectRawAgent(address, mesh.tlsDir, 'a4', manyProducts(1), { ingest: { state: 'fine' } });
    await expect(state.registered).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('register.ingest.state') });
    state.close();

    const raw = connectRawAgent(address, mesh.tlsDir, 'a4', manyProducts(1), { ingest: { state: 'ok' } });
    await raw.registered;
    expect((await until(mesh, 'a4', () => true)).ingest).toMatchObject({ state: 'ok' });
    // Registering again under its own name replaces its catalogue...
    raw.send({ register: { name: 'a4', domain: 'a4', version: 'raw', policyJson: '{}', products: manyProducts(2), ingest: { state: 'failed', failed: ['omop'], notices: [] } } });
    await until(mesh, 'a4', (a) => a.products.length === 2 && a.ingest?.state === 'failed');
    // ...under another name ends the stream.
    raw.send({ register: { name: 'a1', domain: 'a1', version: 'raw', policyJson: '{}', products: [] } });
    const end = Date.now() + 15_000;
    while ((await mesh.client.listAgents()).some((a) => a.name === 'a4' && a.connected)) {
      if (Date.now() > end) throw new Error('a4 stayed connected after registering under another name');
      await new Promise((r) => setTimeout(r, 25));
    }
    raw.close();
    // a1 keeps its own catalogue.
    expect((await until(mesh, 'a1', () => true)).products.map((p) => p.name)).toContain('person');
  }, 60_000);
});
