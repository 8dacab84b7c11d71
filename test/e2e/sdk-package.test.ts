import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd, timeout: 240_000, env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

const MAIN = `import { connect, connectAdmin, FedmeshError, isFedmeshError, type JobView } from 'fedmesh/sdk';
import { connect as connectRoot } from 'fedmesh';

const coordinator = process.env.FEDMESH_TEST_COORDINATOR!;
const tlsDir = process.env.FEDMESH_TEST_TLS!;
const client = connect({ coordinator, tlsDir });
const job: JobView = await client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
let noPort = '';
try {
  connectRoot({ coordinator: 'localhost', insecure: true });
} catch (e) {
  if (e instanceof FedmeshError && isFedmeshError(e)) noPort = e.code;
}
const admin = connectAdmin({ coordinator, tlsDir });
const budget = await admin.setBudget('researcher', 'person', 2.5, 1e-6);
client.close();
admin.close();
console.log(JSON.stringify({ state: job.state, count: job.result?.rows[0]?.count, noPort, budget: budget.budgetEpsilon }));
`;

// Negative control: if the declarations were missing or \`any\`, this would type-check.
const BAD = `import { connect } from 'fedmesh/sdk';
const n: number = connect({ coordinator: 'h:1', insecure: true });
export default n;
`;

/**
 * Issue 14 #13: fedmesh as a dependency of another package. `npm pack` makes the tarball a registry would hold;
 * a fresh package installs it (npm install --offline from the tarball; if the npm cache cannot supply the
 * dependencies offline, the tarball is unpacked into node_modules/fedmesh and its node_modules linked to this
 * checkout's — said in the test output), type-checks a program against `fedmesh/sdk` with tsc, and runs it
 * against a real mesh.
 */
describe('the SDK as an installed package', () => {
  let dir: string;
  let consumer: string;
  let mesh: TestMesh;
  let installedBy = '';

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'client', 'sdk', 'index.d.ts'))) throw new Error('dist/client/sdk/index.d.ts is missing: run `npm run build` first (npm test does)');
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-sdk-pkg-'));
    const pack = await sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
    expect(pack.code, pack.out).toBe(0);
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
    expect(tarball, pack.out).toBeDefined();
    consumer = join(dir, 'consumer');
    await mkdir(join(consumer, 'src'), { recursive: true });
    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module', dependencies: { fedmesh: `file:../${tarball}` } }));
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'dist', rootDir: 'src', typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'] }, include: ['src'] }),
    );
    const install = await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], consumer);
    if (install.code === 0) installedBy = 'npm install --offline from the packed tarball';
    else {
      // The shared npm cache lacks some dependency: unpack the same tarball and link this checkout's dependencies.
      const target = join(consumer, 'node_modules', 'fedmesh');
      await mkdir(target, { recursive: true });
      const untar = await sh('tar', ['-xzf', join(dir, tarball!), '-C', target, '--strip-components=1'], consumer);
      expect(untar.code, untar.out).toBe(0);
      await symlink(join(ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
      installedBy = `tarball unpacked, dependencies linked (npm install --offline failed: ${install.out.split('\n').find((l) => /ERR/.test(l)) ?? install.code})`;
    }
    console.info(`sdk-package: ${installedBy}`);
    mesh = await startMesh({ agentNames: ['s1'] });
    await writePersonCsv(join(dir, 'data'), makePersons(123, 3));
    await mesh.startAgent('s1', join(dir, 'data'));
    await mesh.waitForAgents(1);
  }, 300_000);
  afterAll(async () => {
    await mesh?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('type-checks a program against fedmesh/sdk, and refuses a wrong type (negative control)', async () => {
    await writeFile(join(consumer, 'src', 'main.ts'), MAIN);
    const ok = await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer);
    expect(ok.code, ok.out).toBe(0);
    await writeFile(join(consumer, 'src', 'bad.ts'), BAD);
    const bad = await sh(process.execPath, [TSC, '-p', 'tsconfig.json', '--noEmit'], consumer);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/bad\.ts.*TS2322.*CoordinatorClient.*number/s);
    await rm(join(consumer, 'src', 'bad.ts'));
  }, 120_000);

  it('runs it: a count job, a FedmeshError for a bad address, an admin operation', async () => {
    const r = await sh(process.execPath, ['dist/main.js'], consumer, { FEDMESH_TEST_COORDINATOR: `127.0.0.1:${mesh.server.port}`, FEDMESH_TEST_TLS: mesh.tlsDir });
    expect(r.code, r.out).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toEqual({ state: 'succeeded', count: 123, noPort: 'INVALID_ARGUMENT', budget: 2.5 });
  }, 60_000);
});
