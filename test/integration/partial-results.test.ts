/**
 * Issue 14 item 4: no silent partial results. Three agents run as CLI processes; one is frozen with SIGSTOP (its
 * stream stays open, its heartbeats stop), exactly as the reported "succeeded (agents answered 2/2)" case.
 * - default quorum: the job is refused before anything is charged, naming the frozen agent and why;
 * - explicit quorum 2: the result is marked complete: false, names the frozen agent, and counts exactly the two
 *   live agents' persons (computed here from the generated rows, not by the mesh);
 * - the CLI prints the PARTIAL line (text) and the fields (JSON, CSV) for the documented `fedmesh query … --quorum 2`;
 * - an administrator removes an agent that left for good (`fedmesh agents remove`), and default quorums run again.
 * Negative control: with all three live the same job is complete: true with every person counted.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand, startProcess, stopAll, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { fedmesh } from '../helpers/fedmesh-cli.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv, type PersonRow } from '../helpers/person-data.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const AGENT_CLI = existsSync(CLI) ? { cmd: process.execPath, args: [CLI] } : cliCommand();
const NAMES = ['a1', 'a2', 'a3'] as const;

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('a frozen agent never yields a silent partial result (issue 14 item 4)', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const procs = new Map<string, ManagedProcess>();
  const rows = new Map<string, PersonRow[]>();
  const count = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs: 10_000 };
  const dpCount = { ...count, privacy: { mode: 'central-dp', epsilon: 0.5, delta: 1e-6 } };
  const live = (name: string): boolean => mesh.coordinator.registry.connected().some((a) => a.name === name);

  function startAgent(name: string): void {
    const p = startProcess(
      name,
      ['agent', '--coordinator', `127.0.0.1:${mesh.server.port}`, '--name', name, '--data', join(mesh.dir, 'data', name), '--state', join(mesh.dir, 'state', name), '--tls-dir', mesh.tlsDir, '--allow-modes', 'none,central-dp', '--min-cell-size', '1', '--log-format', 'silent'],
      AGENT_CLI,
    );
    procs.set(name, p);
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    // Heartbeats every 200 ms: an agent silent for 600 ms is not live.
    mesh = await startMesh({ agentNames: [...NAMES], heartbeatIntervalMs: 200 });
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    for (const [i, name] of NAMES.entries()) {
      const r = makePersons(100 + 37 * i, 11 + i, 1 + 10_000 * i);
      rows.set(name, r);
      await writePersonCsv(join(mesh.dir, 'data', name), r);
      startAgent(name);
    }
    await until(() => NAMES.every(live), 60_000, 'three agent processes to connect');
  }, 90_000);

  afterAll(async () => {
    for (const p of procs.values()) p.child.kill('SIGCONT');
    await stopAll([...procs.values()]);
    admin?.close();
    await mesh?.close();
  });

  const persons = (...names: string[]): number => names.reduce((s, n) => s + rows.get(n)!.length, 0);

  it('negative control: all three live, the result is complete and counts every person', async () => {
    const job = await mesh.client.run(count);
    expect(job.state).toBe('succeeded');
    expect(job.result!.complete).toBe(true);
    expect(job.result!.agentsMissing).toBeUndefined();
    expect(job.result!.rows[0]!.count).toBe(persons('a1', 'a2', 'a3'));
  });

  it('a3 frozen (SIGSTOP): the default quorum refuses the job before charging, naming a3 and why', async () => {
    procs.get('a3')!.child.kill('SIGSTOP');
    await until(() => !live('a3'), 10_000, 'the registry to mark a3 not live');
    const before = await mesh.coordinator.budgetReport('researcher', false);
    const err = await mesh.client.submitJob(dpCount).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string; details: { grpcStatus: string } },
    );
    expect(err?.code).toBe('FAILED_PRECONDITION');
    expect(err?.details.grpcStatus).toBe('FAILED_PRECONDITION');
    expect(err!.message).toMatch(/quorum: by default every agent serving product person must answer, and 1 of 3 are not live — a3: not live since \S+Z \(no heartbeat for more than 600 ms; last heartbeat \S+Z\)\. Nothing was charged/);
    expect(await mesh.coordinator.budgetReport('researcher', false)).toEqual(before);
  });

  it('with an explicit quorum 2 the result is marked partial, names a3, and counts exactly a1 + a2', async () => {
    const job = await mesh.client.run({ ...count, quorum: 2 });
    expect(job.state).toBe('succeeded');
    expect(job.result!.complete).toBe(false);
    expect(job.result!.agentsMissing).toEqual([{ agent: 'a3', reason: expect.stringMatching(/^not live since \S+Z \(no heartbeat for more than 600 ms; last heartbeat \S+Z\)$/) }]);
    expect(job.agents.missing).toEqual(['a3']);
    expect(job.result!.rows[0]!.count).toBe(persons('a1', 'a2'));
    expect(job.result!.notes[0]).toMatch(/^PARTIAL result: 2 of 3 agents answered; missing: a3 \(not live since/);
  });

  it('the CLI says so: a PARTIAL line in text output, the fields in JSON and CSV (fedmesh query --quorum 2)', async () => {
    const conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
    const query = ['query', '--product', 'person', '--count', '--privacy', 'none', '--quorum', '2', ...conn];
    const text = await fedmesh(query);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^PARTIAL result: 2 of 3 agents answered; missing: a3 \(not live since \S+Z \(no heartbeat for more than 600 ms; last heartbeat \S+Z\)\)$/m);
    expect(text.stdout).toMatch(/: succeeded {2}\(agents answered 2\/3, missing: a3\)/);
    expect(text.stdout).toContain(String(persons('a1', 'a2')));
    const json = await fedmesh([...query, '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { complete: boolean; agentsMissing: { agent: string }[] };
    expect(parsed.complete).toBe(false);
    expect(parsed.agentsMissing.map((m) => m.agent)).toEqual(['a3']);
    const csv = await fedmesh([...query, '--format', 'csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const [head, first] = csv.stdout.trim().split('\r\n');
    expect(head).toBe('count,complete,agents_missing');
    expect(first).toMatch(new RegExp(`^${persons('a1', 'a2')},false,a3 \\(not live since`));
    // Without --quorum the CLI fails before charging, with the reason, and exits non-zero.
    const refused = await fedmesh(['query', '--product', 'person', '--count', '--privacy', 'none', ...conn]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/a3: not live since/);
  });

  it('an agent that left for good is removed by an administrator (fedmesh agents remove), and default quorums run again', async () => {
    const conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
    // A researcher certificate cannot remove agents.
    await expect(mesh.client.removeAgent('a3')).rejects.toThrow(/only an administrator/);
    const listed = await fedmesh(['agents', ...conn]);
    expect(listed.stdout).toMatch(/a3 .*no .*not live since/s);
    const removed = await fedmesh(['agents', 'remove', 'a3', ...conn, '--name', 'admin']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/removed agent a3/);
    expect((await admin.listAgents()).map((a) => a.name)).toEqual(['a1', 'a2']);
    const job = await mesh.client.run(count);
    expect(job.state).toBe('succeeded');
    expect(job.result!.complete).toBe(true);
    expect(job.result!.rows[0]!.count).toBe(persons('a1', 'a2'));
  });
});
