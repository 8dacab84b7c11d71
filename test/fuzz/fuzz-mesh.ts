import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { synthesize } from '../../client/tools/synth/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';

/**
 * A real mesh for the fuzzer: the built CLI's coordinator and two agents as child processes (so a crash is an
 * exit the fuzzer sees, and the coordinator's memory is its own), mTLS certificates, small synthetic OMOP sites.
 * The coordinator can be killed and restarted on the same state, so a long campaign survives the failures it finds.
 */
export const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
/**
 * Each process gets a 768 MiB JavaScript heap: a memory blow-up (a hostile Arrow reply) then ends in a visible crash
 * within seconds instead of swapping a shared machine for minutes.
 */
export const HEAP_CAP_MIB = 768;
const BUILT = { cmd: process.execPath, args: [`--max-old-space-size=${HEAP_CAP_MIB}`, CLI] };
export const REAL_AGENTS = ['h1', 'h2'] as const;
/** The certificate the fuzzer uses to play a (hostile but authenticated) agent. */
export const FUZZ_AGENT = 'fz';
export const RESEARCHER = 'fuzzer';

export interface FuzzMesh {
  dir: string;
  tlsDir: string;
  address: string;
  coordinator: ManagedProcess;
  agents: ManagedProcess[];
  /** Resident set of the coordinator process in MiB (from /proc/<pid>/status VmRSS). */
  coordinatorRssMiB(): number;
  /** The first of coordinator and agents that has exited, if any. */
  exited(): ManagedProcess | undefined;
  /** Kills everything (SIGKILL if a process does not stop) and starts coordinator and agents again on the same state. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export async function startFuzzMesh(options: { persons?: number } = {}): Promise<FuzzMesh> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test and npm run fuzz do)`);
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-fuzz-'));
  const tlsDir = join(dir, 'tls');
  await makeDevCertificates({ outDir: tlsDir, agents: [...REAL_AGENTS, FUZZ_AGENT], researchers: [RESEARCHER] });
  await synthesize({ outDir: join(dir, 'data'), sites: REAL_AGENTS.length, persons: options.persons ?? 300, seed: 11, format: 'parquet' });

  const mesh = { dir, tlsDir, address: '', agents: [] as ManagedProcess[] } as unknown as FuzzMesh;
  const launch = async (): Promise<void> => {
    const coordinator = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coord'), '--tls-dir', tlsDir, '--log-format', 'silent', '--default-epsilon', '1000', '--default-delta', '1e-3'], BUILT);
    mesh.coordinator = coordinator;
    // A restarted coordinator gets a new port; agents of the previous run are stopped first, so they never dial a stale one.
    mesh.address = (await waitForLine(coordinator, /listening on (\S+)/, 30_000))[1]!;
    mesh.agents = REAL_AGENTS.map((name, i) =>
      startProcess(name, ['agent', '--coordinator', mesh.address, '--name', name, '--data', join(dir, 'data', `site-${i + 1}`), '--state', join(dir, name), '--tls-dir', tlsDir, '--allow-modes', 'none,central-dp,local-dp,distributed-dp', '--min-cell-size', '5', '--budget-cap-epsilon', '10000', '--budget-cap-delta', '0.001', '--log-format', 'silent'], BUILT),
    );
    await waitForAgents(mesh, REAL_AGENTS.length, 60_000);
  };
  // If this process ends without close() (a test timeout), its children must not outlive it: agents would
  // otherwise keep redialling a dead coordinator for ever.
  const killAll = (): void => {
    for (const p of [mesh.coordinator, ...mesh.agents]) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  mesh.coordinatorRssMiB = () => rssMiB(mesh.coordinator.child.pid!);
  mesh.exited = () => [mesh.coordinator, ...mesh.agents].find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  mesh.restart = async () => {
    await stopAll([mesh.coordinator, ...mesh.agents], 2_000);
    await launch();
  };
  mesh.close = async () => {
    process.off('exit', killAll);
    await stopAll([mesh.coordinator, ...mesh.agents].filter(Boolean), 3_000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (e) {
    await mesh.close();
    throw e;
  }
  return mesh;
}

export function researcherClient(mesh: FuzzMesh, callTimeoutMs = 5_000): CoordinatorClient {
  return new CoordinatorClient({ address: mesh.address, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', RESEARCHER), callTimeoutMs });
}

export async function waitForAgents(mesh: FuzzMesh, n: number, timeoutMs: number): Promise<void> {
  const client = researcherClient(mesh);
  try {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const dead = mesh.exited();
      if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}): ${dead.stderr().slice(-2_000)}`);
      const up = await client.listAgents().then((a) => a.filter((x) => x.connected && (REAL_AGENTS as readonly string[]).includes(x.name)).length, () => 0);
      if (up >= n) return;
      if (Date.now() > until) throw new Error(`only ${up} of ${n} agents connected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

/**
 * After a campaign the mesh must still serve: ListAgents shows both real agents and a plain count job on them
 * succeeds, all within `boundMs`. Returns a reason when it does not.
 */
export async function healthProbe(mesh: FuzzMesh, boundMs: number): Promise<string | undefined> {
  const client = researcherClient(mesh, boundMs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((res) => {
    timer = setTimeout(() => res(`health probe did not finish within ${boundMs} ms`), boundMs);
  });
  const probe = (async (): Promise<string | undefined> => {
    const agents = await client.listAgents();
    const up = agents.filter((a) => a.connected && (REAL_AGENTS as readonly string[]).includes(a.name)).map((a) => a.name);
    if (up.length !== REAL_AGENTS.length) return `ListAgents shows ${up.length} of ${REAL_AGENTS.length} real agents connected`;
    const job = await client.run({ kind: 'aggregate', product: 'person', where: [], groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, agents: [...REAL_AGENTS], timeoutMs: boundMs });
    if (job.state !== 'succeeded') return `count job ${job.state}: ${job.error?.code ?? ''} ${job.error?.message ?? ''}`;
    return undefined;
  })().catch((e: unknown) => `health probe failed: ${(e as Error).message}`);
  try {
    return await Promise.race([probe, deadline]);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}
