/**
 * Issue 14 item 12 as an operator and a researcher meet it, with separate processes: `fedmesh agent` over a
 * folder with a symlinked file, an empty file and a file it refuses; `fedmesh catalog` shows the agent's ingest
 * warnings and errors (coarsened, no values); SIGHUP re-reads the folder without a restart and the catalog follows;
 * a deleted file's product is then refused NOT_FOUND (exit 2) naming it.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { BUILT, CLI, fedmesh } from '../helpers/fedmesh-cli.js';

describe('ingest visibility and SIGHUP reload through the CLI (issue 14 item 12)', () => {
  let dir: string;
  let address: string;
  let agent: ManagedProcess;
  const procs: ManagedProcess[] = [];
  const conn = (): string[] => ['--coordinator', address, '--insecure'];

  /** `fedmesh catalog --format json` until `pred` holds (bounded; no fixed sleeps). */
  async function catalogUntil(pred: (c: { products: { name: string }[]; agents: { name: string; ingest: { state: string; notices: { source: string; message: string }[] } | null }[] }) => boolean): Promise<ReturnType<typeof JSON.parse>> {
    const end = Date.now() + 30_000;
    for (;;) {
      const r = await fedmesh(['catalog', ...conn(), '--format', 'json']);
      if (r.code === 0) {
        const c = JSON.parse(r.stdout) as Parameters<typeof pred>[0];
        if (pred(c)) return c;
      }
      if (Date.now() > end) throw new Error(`catalog never reached the expected state: ${r.stdout} ${r.stderr}\n${agent.stderr()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-reload-'));
    const data = join(dir, 'data');
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(data, { recursive: true });
    await mkdir(elsewhere, { recursive: true });
    await writeFile(join(elsewhere, 'labs.csv'), `person_id,value\n${Array.from({ length: 30 }, (_, i) => `${i + 1},${i % 7}`).join('\n')}\n`);
    await symlink(join(elsewhere, 'labs.csv'), join(data, 'labs.csv'));
    await symlink(join(data, 'loop.csv'), join(data, 'loop.csv'));
    await writeFile(join(data, 'empty_t.csv'), 'a,b\n');
    const coord = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coord'), '--insecure'], BUILT);
    procs.push(coord);
    address = (await waitForLine(coord, /listening on (\S+)/, 20_000))[1]!;
    agent = startProcess('r1', ['agent', '--coordinator', address, '--name', 'r1', '--data', data, '--state', join(dir, 'r1'), '--insecure', '--allow-modes', 'none', '--log-format', 'json'], BUILT);
    procs.push(agent);
  }, 60_000);
  afterAll(async () => {
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  });

  it('fedmesh catalog shows the ingest warnings; the agent logs them', async () => {
    const c = await catalogUntil((x) => x.products.some((p) => p.name === 'labs'));
    expect(c.products.map((p: { name: string }) => p.name).sort()).toEqual(['empty_t', 'labs']);
    const ingest = c.agents.find((a: { name: string }) => a.name === 'r1').ingest;
    expect(ingest.state).toBe('warnings');
    expect(ingest.notices).toEqual(expect.arrayContaining([
      { severity: 'warning', source: 'loop.csv', message: 'symbolic link loop; not followed' },
      { severity: 'warning', source: 'empty_t.csv', message: 'no data rows; product empty_t is served empty' },
    ]));
    const table = await fedmesh(['catalog', ...conn()]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('ingest at r1: loaded with warnings');
    expect(table.stdout).toContain('warning: loop.csv: symbolic link loop; not followed');
    for (const line of table.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
    expect(agent.stderr()).toMatch(/"event":"ingest-warning","file":"empty_t.csv"/);
    const agents = await fedmesh(['agents', ...conn()]);
    expect(agents.stdout).toMatch(/warnings \(2\)/);
  }, 60_000);

  it('SIGHUP re-reads changed files: a refused file is shown as failed, a deleted file leaves the catalog and is NOT_FOUND', async () => {
    const data = join(dir, 'data');
    // A file whose schema changed incompatibly is refused (the product keeps its previous version): an error.
    await writeFile(join(dir, 'elsewhere', 'labs.csv'), 'person_id,value\n1,not-a-number-SECRET\n');
    await writeFile(join(data, 'extra.csv'), 'person_id,n\n1,2\n');
    agent.child.kill('SIGHUP');
    const c = await catalogUntil((x) => x.products.some((p) => p.name === 'extra'));
    const ingest = c.agents.find((a: { name: string }) => a.name === 'r1').ingest;
    expect(ingest.state).toBe('failed');
    expect(ingest.failed).toEqual(['labs.csv']);
    expect(JSON.stringify(c)).not.toContain('SECRET');
    const table = await fedmesh(['catalog', ...conn()]);
    expect(table.stdout).toContain('ingest at r1: FAILED (labs.csv)');
    // The agent process did not restart: still the same process, still connected.
    expect(agent.child.exitCode).toBeNull();

    await rm(join(data, 'labs.csv'));
    agent.child.kill('SIGHUP');
    await catalogUntil((x) => !x.products.some((p) => p.name === 'labs'));
    const q = await fedmesh(['query', ...conn(), '--product', 'labs', '--count', '--privacy', 'none']);
    expect(q.code).toBe(2);
    expect(q.stderr).toContain('no connected agent serves product labs');
    expect(agent.stderr()).toMatch(/"event":"reload-requested","signal":"SIGHUP"/);
  }, 60_000);

  it('--reload-interval-ms: the agent re-reads its folder by itself', async () => {
    const data = join(dir, 'data-r3');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'first.csv'), 'person_id,n\n1,2\n');
    const r3 = startProcess('r3', ['agent', '--coordinator', address, '--name', 'r3', '--data', data, '--state', join(dir, 'r3'), '--insecure', '--allow-modes', 'none', '--reload-interval-ms', '200'], BUILT);
    procs.push(r3);
    await catalogUntil((x) => x.products.some((p) => p.name === 'first'));
    await writeFile(join(data, 'second.csv'), 'person_id,n\n1,2\n');
    await catalogUntil((x) => x.products.some((p) => p.name === 'second'));
  }, 60_000);

  it('--reload-interval-ms is validated with the option named', async () => {
    const r = await fedmesh(['agent', ...conn(), '--name', 'r2', '--data', join(dir, 'data'), '--state', join(dir, 'r2'), '--reload-interval-ms', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--reload-interval-ms must be an integer of at least 100 (ms)');
  }, 30_000);
});
