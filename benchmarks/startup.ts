/**
 * Start-up of the CLI (issue 14 #14): `fedmesh --help`, `fedmesh query --help` and the code a client command
 * loads (the researcher commands with grpc-js, without DuckDB or node-seal), each a fresh `node` process, timed in
 * turns with `node -e ''` (the cost of starting Node at all) as the baseline of the same run.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measureInterleaved, ratio, repoRoot, type SuiteReport } from './harness.js';

export interface StartupBenchmarkOptions {
  /** @default 2 */
  warmup?: number;
  /** @default 15 */
  iterations?: number;
}

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (err) => (err ? reject(err) : resolve()));
  });
}

export async function runStartupBenchmark(options: StartupBenchmarkOptions = {}): Promise<SuiteReport> {
  const cli = join(repoRoot(), 'dist', 'client', 'cli.js');
  const researcher = pathToFileURL(join(repoRoot(), 'dist', 'client', 'commands', 'researcher.js')).href;
  const stats = await measureInterleaved(
    {
      nodeBaseline: () => run(['-e', '']),
      help: () => run([cli, '--help']),
      queryHelp: () => run([cli, 'query', '--help']),
      clientCommandModules: () => run(['--input-type=module', '-e', `await import(${JSON.stringify(researcher)})`]),
    },
    { warmup: options.warmup ?? 2, iterations: options.iterations ?? 15 },
  );
  const base = stats.nodeBaseline.p50Ms;
  return {
    results: { ...stats, note: 'p50 of fresh node processes; clientCommandModules = importing the researcher commands (grpc-js, proto, tables)' },
    ratios: {
      helpOverNode: ratio(stats.help.p50Ms, base, { numerator: '`fedmesh --help` p50 ms', denominator: "`node -e ''` p50 ms" }),
      queryHelpOverNode: ratio(stats.queryHelp.p50Ms, base, { numerator: '`fedmesh query --help` p50 ms', denominator: "`node -e ''` p50 ms" }),
      clientModulesOverNode: ratio(stats.clientCommandModules.p50Ms, base, { numerator: 'client command modules p50 ms', denominator: "`node -e ''` p50 ms" }),
    },
  };
}
