import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atFileEnd } from './file-teardown.js';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../../coordinator/index.js';
import { Agent, type AgentOptions, type AgentPolicyOptions } from '../../node-agent/index.js';
import type { Rng } from '../../algorithms/rng.js';
import type { OidcVerifier } from '../../coordinator/identity/index.js';
import type { AccessPolicy } from '../../common/policy/index.js';

export interface TestMesh {
  dir: string;
  tlsDir: string;
  coordinator: Coordinator;
  server: RunningServer;
  agents: Map<string, Agent>;
  client: CoordinatorClient;
  /** `options`: further agent options (e.g. vocabularyComplete). */
  startAgent(name: string, dataDir: string, policy?: AgentPolicyOptions, options?: Partial<Pick<AgentOptions, 'vocabularyComplete' | 'coordinatorKey' | 'accessPolicy' | 'database' | 'streamRows'>>): Promise<Agent>;
  stopAgent(name: string): Promise<void>;
  waitForAgents(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

let certCache: Promise<string> | undefined;

/** One set of development certificates per test file (openssl is slowish). */
export function sharedCerts(agentNames: string[]): Promise<string> {
  certCache ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-certs-'));
    // Shared by every mesh of the file, so removed after its last test (each run left ~85 behind).
    atFileEnd(async () => {
      certCache = undefined;
      await rm(dir, { recursive: true, force: true });
    });
    await makeDevCertificates({ outDir: dir, agents: agentNames, researchers: ['researcher', 'alice', 'bob', 'carol'] });
    return dir;
  })();
  return certCache;
}

/**
 * `rngFor`: golden tests only: the seeded Rng each server (`'coordinator'` or an agent's name) draws its DP noise
 * from, through the test-only constructor option (see test/golden/README.md).
 */
export async function startMesh(opts: { agentNames: string[]; insecure?: boolean; heartbeatIntervalMs?: number; coordinatorLog?: (event: string, fields?: Record<string, unknown>) => void; maxSitesPerPerson?: number; rngFor?: (server: string) => Rng; oidc?: OidcVerifier; accessPolicy?: AccessPolicy; linkStallTimeoutMs?: number; maxRunningJobsPerResearcher?: number }): Promise<TestMesh> {
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-mesh-'));
  const tlsDir = await sharedCerts(['a1', 'a2', 'a3', 'a4', 'rogue', ...opts.agentNames]);
  const insecure = opts.insecure === true;
  const coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 500, ...(opts.maxSitesPerPerson ? { maxSitesPerPerson: opts.maxSitesPerPerson } : {}), ...(opts.linkStallTimeoutMs ? { linkStallTimeoutMs: opts.linkStallTimeoutMs } : {}), ...(opts.maxRunningJobsPerResearcher ? { maxRunningJobsPerResearcher: opts.maxRunningJobsPerResearcher } : {}), ...(opts.accessPolicy ? { accessPolicy: opts.accessPolicy } : {}), ...(opts.coordinatorLog ? { log: opts.coordinatorLog } : {}), ...(opts.rngFor ? { testOnlyRng: opts.rngFor('coordinator') } : {}) });
  const server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: insecure ? undefined : loadTlsMaterial(tlsDir, 'coordinator'), insecure, ...(opts.oidc ? { oidc: opts.oidc } : {}) });
  const client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: insecure ? undefined : loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
  const agents = new Map<string, Agent>();
  const mesh: TestMesh = {
    dir,
    tlsDir,
    coordinator,
    server,
    agents,
    client,
    async startAgent(name, dataDir, policy, options) {
      await mkdir(join(dir, 'agents', name), { recursive: true });
      const agent = await Agent.create({
        name,
        dataDir,
        stateDir: join(dir, 'agents', name),
        coordinator: `127.0.0.1:${server.port}`,
        ...(insecure ? { insecure: true } : { tls: loadTlsMaterial(tlsDir, 'agent', name) }),
        policy: policy ?? { allowModes: ['none', 'central-dp', 'local-dp', 'distributed-dp'] },
        ...(opts.rngFor ? { testOnlyRng: opts.rngFor(name) } : {}),
        ...options,
      });
      agents.set(name, agent);
      agent.start();
      return agent;
    },
    async stopAgent(name) {
      await agents.get(name)?.stop();
      agents.delete(name);
    },
    async waitForAgents(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (coordinator.registry.connected().length >= n) return resolve();
          if (Date.now() > until) return reject(new Error(`only ${coordinator.registry.connected().length} of ${n} agents connected`));
          setTimeout(check, 20);
        };
        check();
      });
    },
    async close() {
      client.close();
      for (const a of agents.values()) await a.stop();
      await coordinator.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return mesh;
}
