/**
 * Issue 8 item 13: the coordinator's state after a crash. A state killed with SIGKILL (everything still in
 * DuckDB's write-ahead log) restarts with every charge; a cut WAL, a damaged database file, a deleted or edited
 * head file make the coordinator refuse to start (non-zero exit, a message naming the problem) instead of
 * serving with charges gone; `--check-state` reports without starting. State files are owner-only.
 */
import { execFile } from 'node:child_process';
import { closeSync, cpSync, existsSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Agent } from '../../node-agent/index.js';
import { sharedCerts } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const BUILT = { cmd: process.execPath, args: [CLI] };
const JOBS = 6;
const EPSILON = 0.5;

async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the CLI to completion (bounded), returning its exit code and output. */
function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

const modeOf = (p: string): number => statSync(p).mode & 0o777;

describe('coordinator state: crash recovery, integrity refusals, --check-state, file modes', () => {
  let dir: string;
  let tls: string;
  let crashed: string;
  /** The budget report the researcher saw just before the crash. */
  let before: { jobs: number; spentEpsilon: number; spentRho: number } | undefined;
  const procs: ManagedProcess[] = [];
  let agent: Agent | undefined;

  const coordinatorArgs = (state: string, listen = '127.0.0.1:0'): string[] =>
    ['coordinator', '--listen', listen, '--state', state, '--tls-dir', tls, '--log-format', 'json', '--heartbeat-ms', '200', '--default-epsilon', '10', '--default-delta', '1e-6'];

  async function startCoordinator(state: string): Promise<{ p: ManagedProcess; address: string }> {
    const p = startProcess('coordinator', coordinatorArgs(state), BUILT);
    procs.push(p);
    const address = (await waitForLine(p, /listening on (\S+)/, 20_000))[1]!;
    return { p, address };
  }

  /** Starts the coordinator on a state that must be refused; returns its exit code and stderr. */
  async function refusedStart(state: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const p = startProcess('coordinator', coordinatorArgs(state), BUILT);
    procs.push(p);
    let stdout = '';
    p.child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Serving a bad state is the defect: stop at once rather than wait.
      if (/listening/.test(stdout)) p.child.kill('SIGKILL');
    });
    const killer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
    const code = await p.exited;
    clearTimeout(killer);
    return { code, stderr: p.stderr(), stdout };
  }

  function copyOf(name: string): string {
    const to = join(dir, name);
    cpSync(crashed, to, { recursive: true });
    return to;
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-cstate-'));
    tls = await sharedCerts(['a1']);
    // One state with JOBS committed charges and a budget set, left by SIGKILL: all of it sits in the WAL.
    crashed = join(dir, 'crashed');
    const { p, address } = await startCoordinator(crashed);
    const data = join(dir, 'data');
    await writePersonCsv(data, makePersons(150, 4));
    agent = await Agent.create({ name: 'a1', dataDir: data, stateDir: join(dir, 'agent'), coordinator: address, tls: loadTlsMaterial(tls, 'agent', 'a1'), policy: { allowModes: ['central-dp'], budgetCap: { epsilon: 100, delta: 1e-3 } } });
    agent.start();
    const client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher') });
    const admin = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'admin', 'admin') });
    try {
      await until(async () => (await client.listAgents()).some((a) => a.connected), 10_000);
      await admin.setBudget('alice', { population: 'person' }, 2, 1e-6);
      for (let i = 0; i < JOBS; i += 1) {
        const r = await client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: EPSILON } });
        expect(r.state).toBe('succeeded');
      }
      before = (await client.getBudget()).entries.find((x) => x.population === 'person');
      expect(before?.jobs).toBe(JOBS);
    } finally {
      client.close();
      admin.close();
    }
    await agent.stop();
    agent = undefined;
    p.child.kill('SIGKILL');
    await p.exited;
    expect(statSync(join(crashed, 'coordinator.duckdb.wal')).size).toBeGreaterThan(0);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  it('restarts after kill -9 with every charge, and creates its state owner-only (0700 folder, 0600 files)', async () => {
    const state = copyOf('recovered');
    const { p, address } = await startCoordinator(state);
    const client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher') });
    try {
      const e = (await client.getBudget()).entries.find((x) => x.population === 'person')!;
      expect(e.jobs).toBe(JOBS);
      expect(e.spentRho).toBe(before!.spentRho);
      expect(e.spentEpsilon).toBe(before!.spentEpsilon);
      expect(e.spentEpsilon).toBeGreaterThanOrEqual(JOBS * EPSILON - 1e-4);
    } finally {
      client.close();
    }
    expect(modeOf(state)).toBe(0o700);
    for (const f of ['coordinator.duckdb', 'ledger-head.json']) expect(modeOf(join(state, f))).toBe(0o600);
    // The state made from scratch by the CLI: the WAL too.
    expect(modeOf(crashed)).toBe(0o700);
    for (const f of ['coordinator.duckdb', 'coordinator.duckdb.wal', 'ledger-head.json']) expect(modeOf(join(crashed, f))).toBe(0o600);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);

    const check = await runCli(['coordinator', '--check-state', '--state', state]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`ledger chain: ok, ${JOBS * 2 + 1} entries`));
    expect(check.stdout).toMatch(/charges=6/);
    expect(check.stdout).toMatch(/state: OK/);
  }, 60_000);

  it('refuses to start when the write-ahead log was cut, naming the lost ledger entries; --check-state says the same', async () => {
    const state = copyOf('wal-cut');
    const wal = join(state, 'coordinator.duckdb.wal');
    truncateSync(wal, Math.floor(statSync(wal).size / 2));
    const check = await runCli(['coordinator', '--check-state', '--state', state]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/ledger entr(y was|ies were) lost \(truncated write-ahead log\?\)/);
    const r = await refusedStart(state);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/listening/);
    expect(r.stderr).toMatch(/failed its integrity check; refusing to start/);
    expect(r.stderr).toMatch(/ledger entr(y was|ies were) lost/);
  }, 60_000);

  it('refuses to start on a damaged database file instead of answering INTERNAL later', async () => {
    const state = copyOf('damaged');
    // A clean stop checkpoints everything into the main file, then blocks past the file header are damaged.
    const { p, address } = await startCoordinator(state);
    const client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher') });
    expect((await client.getBudget()).entries.find((x) => x.population === 'person')?.jobs).toBe(JOBS);
    client.close();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const db = join(state, 'coordinator.duckdb');
    expect(existsSync(`${db}.wal`)).toBe(false);
    const size = statSync(db).size;
    const fd = openSync(db, 'r+');
    // DuckDB's file: three 4 KiB headers, then 256 KiB blocks; damage the middle of every block.
    for (let off = 12_288 + 1024; off < size; off += 262_144) writeSync(fd, Buffer.alloc(512, 0xab), 0, 512, off);
    closeSync(fd);
    const r = await refusedStart(state);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/listening/);
    expect(r.stderr).toMatch(/refusing to start/);
    expect(r.stderr).toMatch(/cannot be (opened|read|used).*Corrupt database file/);
    expect((await runCli(['coordinator', '--check-state', '--state', state])).code).toBe(1);
  }, 60_000);

  it('refuses to start when the head file was deleted or edited', async () => {
    const deleted = copyOf('head-deleted');
    await rm(join(deleted, 'ledger-head.json'));
    const r1 = await refusedStart(deleted);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/head file \S+ is missing/);

    const edited = copyOf('head-edited');
    const headFile = join(edited, 'ledger-head.json');
    const head = JSON.parse(readFileSync(headFile, 'utf8')) as { version: number; seq: number; hash: string };
    // Claiming an earlier head (as a cut-and-relabelled state would) no longer matches the chain's hashes.
    writeFileSync(headFile, JSON.stringify({ ...head, seq: head.seq - 2 }));
    const r2 = await refusedStart(edited);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/head file is at entry \d+ but the ledger chain has \d+ entries|does not match ledger chain entry/);

    const bogus = copyOf('head-bogus');
    writeFileSync(join(bogus, 'ledger-head.json'), '{"version":1,"seq":"many"}');
    const r3 = await refusedStart(bogus);
    expect(r3.code).not.toBe(0);
    expect(r3.stderr).toMatch(/head file \S+ is malformed/);
    const check = await runCli(['coordinator', '--check-state', '--state', bogus]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/malformed/);
  }, 60_000);

  it('refuses to start when the database is gone but its head file is not', async () => {
    const state = copyOf('db-gone');
    await rm(join(state, 'coordinator.duckdb'));
    await rm(join(state, 'coordinator.duckdb.wal'));
    const r = await refusedStart(state);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/coordinator\.duckdb is missing but the head file is at ledger entry \d+/);
  }, 30_000);
});
