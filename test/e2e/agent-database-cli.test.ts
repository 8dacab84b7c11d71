/**
 * `fedmesh agent --database …` exactly as README.md documents it (the command is read from the README): a real agent
 * process over GiBleed in a throw-away PostgreSQL 15 (database `omop`, schemas `cdm` and `vocab`, role
 * `fedmesh_agent` with SELECT only), with TLS, registering with a coordinator and answering a cohort job (central-dp: the
 * documented agent keeps the default privacy modes) within 6σ of the reference count. The README's `127.0.0.1:7443` becomes the test coordinator's address and `db.hospital.example:5432`
 * the test server's. Bad input, each a clear error at start naming the problem: a password in the URL, a password
 * file others may read, the wrong password, a missing schema. Skips with a message when ../shared/data or the
 * PostgreSQL binaries are absent. Needs `npm run build`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/fedmesh-cli.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { loadGiBleedSites } from '../helpers/postgres-gibleed.js';
import { circeJsonDir, gibleedAvailable, gibleedDir, referenceCohortCounts } from '../reference/circe-reference.js';
import { extractCommands } from './readme-commands.js';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const available = gibleedAvailable() && existsSync(circeJsonDir);
if (!available) console.warn(`[skip] fedmesh agent --database: ${gibleedDir} or ${circeJsonDir} not found (../shared/data is absent)`);
const noPg = skipWithoutPostgres('fedmesh agent --database (README command)');
const PASSWORD = 'omop-agent-pw-7f3c';

/** The README's `fedmesh agent … --database …` command, as written. */
function documented(): string {
  const cmd = extractCommands(README).find((c) => c.text.startsWith('fedmesh agent ') && c.text.includes(' --database '));
  if (!cmd) throw new Error('README.md documents no `fedmesh agent … --database …` command');
  return cmd.text;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
  stop: () => Promise<void>;
}

/** Runs a `fedmesh …` command line (no quoting in it) with the built CLI in `cwd`; resolves at exit or when `until` matches its output (log lines are on stderr). */
function runCli(text: string, cwd: string, until?: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const args = text.replace(/^fedmesh /, '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [CLI, ...args, '--log-format', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGPASSWORD: '', ...env } });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolveRun, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`no exit or ${String(until)} within 90 s\n${stdout}\n${stderr}`));
    }, 90_000);
    const out = (): Run => ({ code: child.exitCode, stdout, stderr, pid: child.pid!, stop });
    const seen = (): void => {
      if (until && until.test(`${stdout}\n${stderr}`)) {
        clearTimeout(timer);
        resolveRun(out());
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      seen();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      seen();
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolveRun(out());
    });
  });
}

describe.skipIf(!available || noPg)('fedmesh agent --database, as the README documents it', () => {
  let mesh: TestMesh;
  let pg: PgCluster;
  let cwd: string;
  let address: string;
  const running: Run[] = [];

  /** The documented command with the test's coordinator and database server. */
  const command = (): string => documented().replaceAll('127.0.0.1:7443', address).replaceAll('db.hospital.example:5432', `127.0.0.1:${pg.port}`);

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: ['site-pg'] });
    address = `127.0.0.1:${mesh.server.port}`;
    pg = await startPostgres();
    await loadGiBleedSites(pg, 'omop', 1, [{ schema: 'cdm', residue: 0 }], { name: 'fedmesh_agent', password: PASSWORD });
    cwd = join(mesh.dir, 'cwd');
    await mkdir(cwd);
    await symlink(mesh.tlsDir, join(cwd, 'tls'));
    await writeFile(join(cwd, 'omop-password'), `${PASSWORD}\n`, { mode: 0o600 });
  }, 300_000);
  afterAll(async () => {
    for (const r of running) await r.stop();
    await mesh?.close();
    await pg?.stop();
  });

  it('serves the CDM: registers its OMOP tables and answers a cohort job within 6σ of the reference count; no password in its command line', async () => {
    const agent = await runCli(command(), cwd, /"registered"/);
    running.push(agent);
    expect(agent.code, agent.stderr).toBeNull();
    await mesh.waitForAgents(1, 60_000);
    const products = mesh.coordinator.registry.connected().find((a) => a.name === 'site-pg')!.products.map((p) => p.name);
    expect(products).toEqual(expect.arrayContaining(['person', 'condition_occurrence', 'drug_exposure', 'concept']));
    // What `ps` shows: the process's own arguments.
    const cmdline = await readFile(`/proc/${agent.pid}/cmdline`, 'utf8').catch(() => '');
    expect(cmdline).toContain('--database');
    expect(cmdline).not.toContain(PASSWORD);
    const definition = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    // The documented agent keeps the default modes (DP only): the count is within 6σ of the reference.
    const job = await mesh.client.run({ kind: 'cohort', definition, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, timeoutMs: 120_000 });
    expect(job.error).toBeUndefined();
    const s = job.result!.summary as { count: number; count_std: number };
    expect(s.count_std).toBeLessThan(20);
    expect(Math.abs(s.count - (await referenceCohortCounts()).celecoxib!.persons)).toBeLessThan(6 * s.count_std);
    await agent.stop();
    running.pop();
  }, 180_000);

  it('bad input stops the agent at start with a message naming the problem', async () => {
    const base = command().replace('state/site-pg', 'state/site-pg-bad');
    const cases: [string, string, RegExp][] = [
      ['password in the URL', base.replace('postgres://fedmesh_agent@', `postgres://fedmesh_agent:${PASSWORD}@`), /must not contain a password/],
      ['password file readable by others', base.replace('omop-password', 'loose-password'), /may be read by group or others .*chmod 600/],
      ['wrong password', base.replace('omop-password', 'wrong-password'), /password authentication failed for role fedmesh_agent/],
      ['missing schema', base.replace('--schema cdm', '--schema nosuch'), /schema nosuch does not exist/],
      ['no --schema', base.replace('--schema cdm', ''), /--schema <name> is required with --database/],
    ];
    await writeFile(join(cwd, 'loose-password'), PASSWORD);
    await chmod(join(cwd, 'loose-password'), 0o644);
    await writeFile(join(cwd, 'wrong-password'), 'not-the-password', { mode: 0o600 });
    for (const [what, text, message] of cases) {
      const r = await runCli(text, cwd);
      expect(r.code, what).not.toBe(0);
      expect(`${r.stdout}\n${r.stderr}`, what).toMatch(message);
      expect(`${r.stdout}\n${r.stderr}`, what).not.toContain('not-the-password');
    }
  }, 180_000);
});
