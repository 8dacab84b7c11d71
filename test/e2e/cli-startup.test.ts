import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');

/**
 * Issue 14 #14: what a command imports decides how fast it starts. A module resolve hook lists every module the
 * CLI loads; `--help` must load commander and nothing else from node_modules, client commands no DuckDB or
 * node-seal. (Speed itself is measured in benchmarks/startup.ts, not asserted here.)
 */
describe('CLI start-up imports only what the command needs', () => {
  let dir: string;
  let hookFlag: string;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-startup-'));
    const hook = join(dir, 'hook.mjs');
    await writeFile(hook, "import { writeSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); writeSync(2, `[import] ${r.url}\\n`); return r; }\n");
    hookFlag = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(pathToFileURL(hook).href)})`;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function packagesLoaded(args: string[]): Promise<string[]> {
    const stderr = await new Promise<string>((res) => {
      execFile(process.execPath, ['--import', hookFlag, CLI, ...args], { timeout: 60_000 }, (_err, _out, err) => res(err));
    });
    expect(stderr).toContain('[import]');
    const names = new Set<string>();
    for (const m of stderr.matchAll(/\[import\] .*?node_modules\/((?:@[^/]+\/)?[^/]+)/g)) names.add(m[1]!);
    return [...names].sort();
  }

  it('`fedmesh --help` and `fedmesh query --help` load commander only', async () => {
    expect(await packagesLoaded(['--help'])).toEqual(['commander']);
    expect(await packagesLoaded(['query', '--help'])).toEqual(['commander']);
  });

  it('a client command loads grpc but not DuckDB, node-seal or Arrow', async () => {
    const loaded = await packagesLoaded(['agents', '--coordinator', '127.0.0.1:1', '--insecure']);
    expect(loaded).toContain('@grpc/grpc-js');
    for (const heavy of ['@duckdb/node-api', '@duckdb/node-bindings', 'node-seal', 'apache-arrow']) expect(loaded).not.toContain(heavy);
  });
});
