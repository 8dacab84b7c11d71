/**
 * Issue 8 item 12 across agent process restarts, over the real transport: an agent (the CLI process) serving an
 * OMOP CDM in Parquet is restarted with a truncated person.parquet, then with the repaired file. Every CDM table
 * must stay served (as the researcher sees it in the catalog and in a job's result), and the logs name the file.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { OMOP_PARQUET_ROWS, writeOmopParquet } from '../helpers/omop-parquet.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const BUILT = { cmd: process.execPath, args: [CLI] };
const CDM = ['person', 'observation_period', 'condition_occurrence', 'measurement', 'drug_exposure', 'concept'];

describe('agent restarts over a damaged, then repaired, OMOP folder (issue 8 item 12)', () => {
  let mesh: TestMesh;
  const procs: ManagedProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: ['a1'], heartbeatIntervalMs: 200 });
  });
  afterAll(async () => {
    await stopAll(procs);
    await mesh.close();
  });

  /** Starts the agent process and waits until the coordinator lists it connected; returns its products. */
  async function startAgent(data: string, state: string): Promise<{ p: ManagedProcess; products: string[] }> {
    const p = startProcess('agent', ['agent', '--coordinator', `127.0.0.1:${mesh.server.port}`, '--name', 'a1', '--data', data, '--state', state, '--tls-dir', mesh.tlsDir, '--allow-modes', 'none', '--log-format', 'json'], BUILT);
    procs.push(p);
    const end = Date.now() + 30_000;
    for (;;) {
      const a = (await mesh.client.listAgents()).find((x) => x.name === 'a1' && x.connected);
      // A fresh session: the previous process's registration is gone once it disconnected.
      if (a && p.stderr().includes('"event":"products"')) return { p, products: a.products.map((x) => x.name).sort() };
      if (p.child.exitCode !== null) throw new Error(`agent exited: ${p.stderr()}`);
      if (Date.now() > end) throw new Error(`agent did not connect: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop(p: ManagedProcess): Promise<void> {
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const end = Date.now() + 10_000;
    while ((await mesh.client.listAgents()).some((x) => x.name === 'a1' && x.connected)) {
      if (Date.now() > end) throw new Error('agent still listed as connected');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function count(product: string): Promise<unknown> {
    const r = await mesh.client.run({ kind: 'aggregate', product, measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(r.state).toBe('succeeded');
    return r.result!.rows[0]!.count;
  }

  it('keeps serving every CDM table while person.parquet is truncated, and serves them all once it is repaired', async () => {
    const data = join(mesh.dir, 'omop');
    const state = join(mesh.dir, 'agent-state');
    const files = await writeOmopParquet(data);
    const good = readFileSync(files.person!);

    const first = await startAgent(data, state);
    expect(first.products).toEqual(expect.arrayContaining(CDM));
    expect(await count('measurement')).toBe(OMOP_PARQUET_ROWS.measurement);
    // The CLI agent keeps its database, salt and identity key owner-only.
    expect(statSync(state).mode & 0o777).toBe(0o700);
    for (const f of ['agent.duckdb', 'identity-ed25519.key']) expect(statSync(join(state, f)).mode & 0o777).toBe(0o600);
    await stop(first.p);

    writeFileSync(files.person!, good.subarray(0, Math.floor(good.length / 2)));
    const broken = await startAgent(data, state);
    expect(broken.products).toEqual(first.products);
    expect(broken.p.stderr()).toMatch(/"event":"ingest-failed","format":"omop","error":"[^"]*person\.parquet: could not be read/);
    expect(await count('condition_occurrence')).toBe(OMOP_PARQUET_ROWS.condition_occurrence);
    await stop(broken.p);

    writeFileSync(files.person!, good);
    const repaired = await startAgent(data, state);
    expect(repaired.products).toEqual(first.products);
    expect(repaired.p.stderr()).toMatch(/"event":"ingested","format":"omop 5.4"/);
    for (const t of ['condition_occurrence', 'measurement', 'drug_exposure', 'observation_period']) expect(await count(t)).toBe(OMOP_PARQUET_ROWS[t]);
    await stop(repaired.p);
  }, 120_000);
});
