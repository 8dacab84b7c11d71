import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { connectRawAgent, manyProducts, type RawAgent } from '../helpers/raw-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');

/** Runs the built CLI with stdout and stderr piped to this process, as `fedmesh … | jq` would. */
async function fedmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Issue 8, items 15 and 16: documented command lines work as written; piped --json output is never cut. */
describe('the CLI against a real coordinator (mTLS)', () => {
  let mesh: TestMesh;
  let conn: string[];
  let fake: RawAgent;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: ['a1'] });
    conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
    // One agent serving 500 products with ~4 KB of metadata each: `agents --json` is ~2.2 MB, 35 times a pipe's 64 KiB,
    // so a process that exits before stdout drains is cut every time.
    fake = connectRawAgent(`127.0.0.1:${mesh.server.port}`, mesh.tlsDir, 'a1', manyProducts(500, 6, 4000));
    await fake.registered;
  }, 60_000);
  afterAll(async () => {
    fake?.close();
    await mesh?.close();
  });

  it('`fedmesh agents --json` piped: the whole JSON arrives and parses (item 16)', async () => {
    const r = await fedmesh(['agents', '--json', ...conn, '--name', 'alice']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(30 * 65_536);
    const out = JSON.parse(r.stdout) as { agents: { name: string; products: unknown[] }[] };
    expect(out.agents.map((a) => [a.name, a.products.length])).toEqual([['a1', 500]]);
  });

  it('`fedmesh catalog --json` piped: the same', async () => {
    const r = await fedmesh(['catalog', '--json', ...conn]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(30 * 65_536);
    expect((JSON.parse(r.stdout) as { products: unknown[] }).products).toHaveLength(500);
  });

  it("the README's `fedmesh budget set --researcher alice --population person --epsilon 5 --delta 1e-6 … --name admin` works as written (item 15)", async () => {
    const r = await fedmesh(['budget', 'set', '--researcher', 'alice', '--population', 'person', '--epsilon', '5', '--delta', '1e-6', ...conn, '--name', 'admin']);
    expect(r.code, r.stderr).toBe(0);
    // The raw agent publishes no population for its 500 person-keyed products: all of them are in population person.
    expect(r.stdout).toMatch(/^budget of alice on population person \(covers product_0, product_1, product_10, product_100, product_101, product_102, product_103, product_104 and 492 more\): ε=5 δ=0\.000001/);
    const admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    try {
      const alice = (await admin.getBudget('alice')).entries.find((e) => e.population === 'person')!;
      expect(alice).toMatchObject({ budgetEpsilon: 5, budgetDelta: 1e-6, explicit: true });
      expect(alice.products).toHaveLength(500);
    } finally {
      admin.close();
    }
  });

  it('`budget set --product P` maps P to its population and says so; a product no agent serves is refused (issue 15 item 1)', async () => {
    const r = await fedmesh(['budget', 'set', '--researcher', 'alice', '--product', 'product_7', '--epsilon', '5', '--delta', '1e-6', ...conn, '--name', 'admin']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^product product_7 belongs to population person: its budget is the population's, shared by every product in it\nbudget of alice on population person /);
    const missing = await fedmesh(['budget', 'set', '--researcher', 'alice', '--product', 'person', '--epsilon', '5', ...conn, '--name', 'admin']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/FAILED_PRECONDITION: product: "person" is served by no connected agent, so its population is not known; name the population instead \(--population person\)/);
    const both = await fedmesh(['budget', 'set', '--researcher', 'alice', '--product', 'product_7', '--population', 'person', '--epsilon', '5', ...conn, '--name', 'admin']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/exactly one of --population and --product/);
  });

  it('the options of `budget` itself still work: `fedmesh budget … --name alice` and `budget --admin --researcher alice --json`', async () => {
    const mine = await fedmesh(['budget', ...conn, '--name', 'alice']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toMatch(/alice × population person \(covers product_0, [^)]* and 492 more\): budget ε=5/);
    const admin = await fedmesh(['budget', '--admin', '--researcher', 'alice', '--json', ...conn]);
    expect(admin.code, admin.stderr).toBe(0);
    expect((JSON.parse(admin.stdout) as { entries: { researcher: string }[] }).entries.every((e) => e.researcher === 'alice')).toBe(true);
  });

  it("the README's `fedmesh budget set --project IRB-2026-7 --population person --epsilon 4 --delta 1e-5 … --name admin` works as written (issue 11)", async () => {
    const r = await fedmesh(['budget', 'set', '--project', 'IRB-2026-7', '--population', 'person', '--epsilon', '4', '--delta', '1e-5', ...conn, '--name', 'admin']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^project IRB-2026-7 × population person: budget ε=4 δ=0\.00001 shared by every researcher of the project; spent ρ=0 \(ε=0 at δ=0\.00001\) in 0 job\(s\) of 0 researcher\(s\); remaining ρ=0\.3731: the next job may spend up to ε=4\n/);
    const admin = await fedmesh(['budget', '--admin', '--json', ...conn]);
    const entries = (JSON.parse(admin.stdout) as { entries: { project: string; budgetEpsilon: number; explicit: boolean }[] }).entries;
    expect(entries.find((e) => e.project === 'IRB-2026-7')).toMatchObject({ budgetEpsilon: 4, explicit: true });
    // Refusals name the flag: both or neither of --researcher/--project, a malformed project, a researcher certificate.
    const both = await fedmesh(['budget', 'set', '--researcher', 'alice', '--project', 'P1', '--population', 'person', '--epsilon', '4', ...conn, '--name', 'admin']);
    expect(both.stderr).toMatch(/exactly one of --researcher and --project/);
    const bad = await fedmesh(['budget', 'set', '--project', 'has space', '--population', 'person', '--epsilon', '4', ...conn, '--name', 'admin']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT: project: .*must be a project or approval id/);
    const notAdmin = await fedmesh(['budget', 'set', '--project', 'P1', '--population', 'person', '--epsilon', '4', ...conn, '--name', 'alice']);
    expect(notAdmin.code).not.toBe(0);
  });

  it('a refused command still exits non-zero with its message (exit codes survive the drain)', async () => {
    const r = await fedmesh(['budget', 'set', '--researcher', 'alice', '--product', 'person', '--epsilon', '5', ...conn, '--name', 'alice']);
    expect(r.code).not.toBe(0);
  });
});
