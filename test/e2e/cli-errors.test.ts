import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fedmesh(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((res) => {
    // A clean environment: no FEDMESH_* or config file of the machine leaks into the test.
    const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', XDG_CONFIG_HOME: join(tmpdir(), 'fedmesh-no-config') };
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, env: { ...base, ...env } }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** A port nothing listens on: bind port 0, read it, close. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

describe('CLI errors and exit codes (issue 14 #10, #11), separate processes against a real mesh', () => {
  let mesh: TestMesh;
  let dir: string;
  let conn: string[];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-cli-errors-'));
    mesh = await startMesh({ agentNames: ['a1'] });
    await writePersonCsv(join(dir, 'a1'), makePersons(300, 5));
    await mesh.startAgent('a1', join(dir, 'a1'));
    await mesh.waitForAgents(1);
    conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
  }, 60_000);
  afterAll(async () => {
    await mesh?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('0 on success', async () => {
    const r = await fedmesh(['query', ...conn, '--product', 'person', '--count', '--privacy', 'none']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('2 for an unknown flag, with commander\'s did-you-mean', async () => {
    const r = await fedmesh(['query', ...conn, '--prodct', 'person', '--count']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--prodct'[\s\S]*Did you mean --product\?/);
  });

  it('2 for a coordinator address without a port (not a silent 443)', async () => {
    const r = await fedmesh(['agents', '--coordinator', 'localhost', '--tls-dir', mesh.tlsDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--coordinator: "localhost" has no port');
  });

  it('3 and "cannot reach coordinator at host:port" when nothing listens', async () => {
    const port = await freePort();
    const r = await fedmesh(['agents', '--coordinator', `127.0.0.1:${port}`, '--tls-dir', mesh.tlsDir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach coordinator at 127.0.0.1:${port}`);
    expect(r.stderr).not.toMatch(/AGENT_UNAVAILABLE|Resolution note/);
  });

  it('3 and the failing certificate named for a wrong CA', async () => {
    const other = join(dir, 'other-ca');
    await makeDevCertificates({ outDir: other, agents: ['x'], researchers: ['researcher'] });
    const r = await fedmesh(['agents', '--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', other]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`TLS: the coordinator's certificate at 127.0.0.1:${mesh.server.port} failed verification against the CA ${join(other, 'ca.crt')}`);
  }, 30_000);

  it('2 with did-you-mean for a misspelt product and column', async () => {
    const p = await fedmesh(['query', ...conn, '--product', 'persn', '--count', '--privacy', 'none']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('no connected agent serves product persn (did you mean "person"?)');
    const c = await fedmesh(['query', ...conn, '--product', 'person', '--mean', 'year_of_brith:1900:2030', '--privacy', 'none']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--mean year_of_brith:1900:2030: measures[0].column: unknown column year_of_brith in product person (did you mean "year_of_birth"?)');
  });

  it('2 for `=>` in --where, before anything is sent', async () => {
    const r = await fedmesh(['query', ...conn, '--product', 'person', '--count', '--privacy', 'none', '--where', 'year_of_birth=>1950']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"=>" is not an operator (did you mean ">="?)');
  });

  it('4 when the privacy budget refuses the job', async () => {
    const r = await fedmesh(['query', ...conn, '--product', 'person', '--count', '--privacy', 'central-dp', '--epsilon', '5']);
    expect(r.code, r.stderr + r.stdout).toBe(4);
    expect(r.stderr + r.stdout).toMatch(/BUDGET_EXHAUSTED/);
  });

  it('takes the coordinator and TLS folder from the environment, and from a config profile', async () => {
    const env = { FEDMESH_COORDINATOR: `127.0.0.1:${mesh.server.port}`, FEDMESH_TLS_DIR: mesh.tlsDir };
    const viaEnv = await fedmesh(['agents', '--json'], env);
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(JSON.parse(viaEnv.stdout).agents[0].name).toBe('a1');
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ profiles: { lab: { coordinator: `127.0.0.1:${mesh.server.port}`, tlsDir: mesh.tlsDir } } }));
    const viaProfile = await fedmesh(['agents', '--json', '--profile', 'lab'], { FEDMESH_CONFIG: config });
    expect(viaProfile.code, viaProfile.stderr).toBe(0);
    // The flag beats the profile: a wrong port given on the command line is used (and fails with 3).
    const port = await freePort();
    const flagWins = await fedmesh(['agents', '--profile', 'lab', '--coordinator', `127.0.0.1:${port}`], { FEDMESH_CONFIG: config });
    expect(flagWins.code).toBe(3);
    await writeFile(config, JSON.stringify({ profiles: { lab: { coordinater: 'x:1' } } }));
    const bad = await fedmesh(['agents', '--profile', 'lab'], { FEDMESH_CONFIG: config });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('profiles.lab: unknown key(s) "coordinater"');
  });
});
