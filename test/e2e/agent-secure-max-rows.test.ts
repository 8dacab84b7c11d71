import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { BUILT, CLI } from '../helpers/fedmesh-cli.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/** `fedmesh agent --secure-max-rows N` as the README documents it: the agent publishes the largest bound it accepts. */
describe('fedmesh agent --secure-max-rows', () => {
  let mesh: TestMesh;
  let data: string;
  const procs: ManagedProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: [], insecure: true });
    data = join(mesh.dir, 'data', 'h1');
    await writePersonCsv(data, makePersons(30, 7));
  });
  afterAll(async () => {
    await stopAll(procs);
    await mesh?.close();
  });

  it('publishes the bound at registration, and secure jobs above it are refused from that public number', async () => {
    const args = ['agent', '--coordinator', `127.0.0.1:${mesh.server.port}`, '--name', 'h1', '--data', data, '--state', join(mesh.dir, 'h1'), '--insecure', '--secure-max-rows', '1000', '--log-format', 'silent'];
    procs.push(startProcess('h1', args, BUILT));
    await mesh.waitForAgents(1, 60_000);
    expect(mesh.coordinator.registry.connected()[0]!.policy.secureMaxRows).toBe(1000);
    const job = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'distributed-dp', rho: 0.5 }, secure: 'secagg', secureMaxRows: 1001 };
    const err = (await mesh.client.submitJob(job).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('FAILED_PRECONDITION');
    expect(err.message).toMatch(/secureMaxRows: 1001 is above 1000, the largest per-agent bound agent h1 agrees to/);
  });

  it('refuses a bound that is not a positive integer, naming the option', async () => {
    const p = startProcess('bad', ['agent', '--coordinator', `127.0.0.1:${mesh.server.port}`, '--name', 'bad', '--data', data, '--state', join(mesh.dir, 'bad'), '--insecure', '--secure-max-rows', '0', '--log-format', 'silent'], BUILT);
    procs.push(p);
    expect(await p.exited).not.toBe(0);
    expect(p.stderr()).toMatch(/secureMaxRows must be a positive integer, got 0/);
  });
});
