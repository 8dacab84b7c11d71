import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const BUILT = { cmd: process.execPath, args: [CLI] };

async function fedmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('the fedmesh CLI end to end (separate processes, mTLS)', () => {
  let dir: string;
  let procs: ManagedProcess[] = [];
  let address = '';
  let conn: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-e2e-'));
    const tls = join(dir, 'tls');
    expect((await fedmesh(['certs', '--out', tls, '--agents', 'h1,h2', '--researchers', 'alice'])).code).toBe(0);
    const synth = await fedmesh(['synth', '--out', join(dir, 'data'), '--sites', '2', '--persons', '400', '--seed', '7']);
    expect(synth.code, synth.stderr).toBe(0);
    const coord = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coord'), '--tls-dir', tls, '--log-format', 'silent'], BUILT);
    procs.push(coord);
    address = (await waitForLine(coord, /listening on (\S+)/, 20_000))[1]!;
    for (const [i, name] of ['h1', 'h2'].entries()) {
      procs.push(startProcess(name, ['agent', '--coordinator', address, '--name', name, '--data', join(dir, 'data', `site-${i + 1}`), '--state', join(dir, name), '--tls-dir', tls, '--allow-modes', 'none,central-dp', '--log-format', 'silent'], BUILT));
    }
    conn = ['--coordinator', address, '--tls-dir', tls, '--name', 'alice'];
    const client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'alice') });
    try {
      const until = Date.now() + 60_000;
      while ((await client.listAgents()).filter((a) => a.connected).length < 2) {
        const dead = procs.find((p) => p.child.exitCode !== null);
        if (dead) throw new Error(`${dead.name} exited: ${dead.stderr()}`);
        if (Date.now() > until) throw new Error('agents did not connect within 60 s');
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      client.close();
    }
  }, 120_000);
  afterAll(async () => {
    await stopAll(procs);
    procs = [];
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--help lists the commands', async () => {
    const r = await fedmesh(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['coordinator', 'agent', 'query', 'agents', 'jobs', 'certs', 'synth', 'demo']) expect(r.stdout).toContain(c);
  });

  it('query from flags prints one JSON object with the documented fields', async () => {
    const r = await fedmesh(['query', ...conn, '--product', 'person', '--count', '--mean', 'year_of_birth:1900:2030', '--group-by', 'gender_concept_id', '--where', 'year_of_birth>=1950', '--privacy', 'none', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['jobId', 'status', 'agents', 'rows', 'suppressed', 'privacy']));
    expect(out.status).toBe('succeeded');
    expect(out.agents).toEqual({ asked: ['h1', 'h2'], answered: ['h1', 'h2'], missing: [] });
    const rows = out.rows as Record<string, number>[];
    expect(rows.map((x) => x.gender_concept_id).sort()).toEqual([8507, 8532]);
    for (const row of rows) {
      expect(row.count).toBeGreaterThan(0);
      expect(row.mean_year_of_birth).toBeGreaterThanOrEqual(1950);
    }
  });

  it('query from a JOB.json file gives the same numbers as the same job from flags', async () => {
    const file = join(dir, 'job.json');
    await writeFile(file, JSON.stringify({ kind: 'aggregate', product: 'person', where: [{ column: 'year_of_birth', op: '>=', value: 1950 }], groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' } }));
    const a = JSON.parse((await fedmesh(['query', file, ...conn, '--json'])).stdout) as { rows: unknown[] };
    const b = JSON.parse((await fedmesh(['query', ...conn, '--product', 'person', '--count', '--mean', 'year_of_birth:1900:2030', '--group-by', 'gender_concept_id', '--where', 'year_of_birth >= 1950', '--privacy', 'none', '--json'])).stdout) as { rows: unknown[] };
    expect(a.rows).toEqual(b.rows);
  });

  it('a readable table by default', async () => {
    const r = await fedmesh(['query', ...conn, '--product', 'person', '--count', '--privacy', 'none']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/succeeded/);
    expect(r.stdout).toMatch(/count/);
    expect(r.stdout.includes('\u001b[')).toBe(false); // no colours when not a terminal
  });

  it('a bad job exits non-zero with a message naming the field', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, '{"kind":"aggregate","product":"person","measures":[{"fn":"mean","column":"year_of_birth","bounds":[2030,1900]}]');
    let r = await fedmesh(['query', file, ...conn]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/malformed JSON/);
    r = await fedmesh(['query', ...conn, '--product', 'person', '--mean', 'year_of_birth:2030:1900', '--privacy', 'none']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/measures\[0\]\.bounds: lower bound 2030 must be below upper bound 1900/);
  });

  it('agents and jobs list as JSON', async () => {
    const agents = JSON.parse((await fedmesh(['agents', '--json', ...conn])).stdout) as { agents: { name: string; products: { name: string }[] }[] };
    expect(agents.agents.map((a) => a.name)).toEqual(['h1', 'h2']);
    expect(agents.agents[0]!.products.map((p) => p.name)).toEqual(expect.arrayContaining(['person', 'condition_occurrence', 'measurement']));
    const jobs = JSON.parse((await fedmesh(['jobs', '--json', ...conn])).stdout) as { jobs: { researcher: string; status: string }[] };
    expect(jobs.jobs.length).toBeGreaterThanOrEqual(3);
    expect(jobs.jobs.every((j) => j.researcher === 'alice')).toBe(true);
  });

  it('catalog lists each product with the agents serving it, its privacy unit, sensitivity and coarsened quality', async () => {
    const r = await fedmesh(['catalog', '--json', ...conn]);
    expect(r.code, r.stderr).toBe(0);
    const cat = JSON.parse(r.stdout) as { products: { name: string; agents: string[]; privacyUnit: string; perAgent: Record<string, { sensitivity: string; quality: { rowCount: unknown } }> }[] };
    const person = cat.products.find((p) => p.name === 'person')!;
    expect(person.agents).toEqual(['h1', 'h2']);
    expect(person.privacyUnit).toBe('person_id');
    expect(person.perAgent.h1!.sensitivity).toBe('sensitive');
    // 400 persons per site, reported rounded to two significant figures, never as an exact small number.
    expect(person.perAgent.h1!.quality.rowCount).toBe(400);
  });

  it('a client without a certificate is refused', async () => {
    const r = await fedmesh(['agents', '--coordinator', address, '--insecure']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unreachable|refused/i);
  });
});
