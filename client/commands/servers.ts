import { checkCoordinatorState, Coordinator, startCoordinatorServer } from '../../coordinator/index.js';
import { quote } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { PRIVACY_MODES, type PrivacyMode } from '../../common/job/spec.js';
import { Agent } from '../../node-agent/index.js';
import { tlsFor, untilSignal, type ConnectionFlags } from './common.js';

export interface CoordinatorFlags extends ConnectionFlags {
  listen?: string;
  state: string;
  checkState?: boolean;
  heartbeatMs?: string;
  agentGraceMs?: string;
  defaultEpsilon?: string;
  maxSitesPerPerson?: string;
  defaultDelta?: string;
  logFormat?: 'pretty' | 'json' | 'silent';
}

/** `fedmesh coordinator`: serves until SIGINT/SIGTERM, then shuts down cleanly. */
export async function runCoordinator(flags: CoordinatorFlags): Promise<number> {
  // Everything the server writes (database, write-ahead log, head file) is for its owner only.
  process.umask(0o077);
  if (flags.checkState) {
    const check = await checkCoordinatorState(flags.state);
    process.stdout.write(`${check.lines.join('\n')}\n`);
    return check.ok ? 0 : 1;
  }
  if (!flags.listen) throw new RangeError('--listen <host:port> is required (unless --check-state)');
  const log = createLogger('coordinator', { format: flags.logFormat ?? 'pretty' });
  const tls = tlsFor(flags, 'coordinator');
  const coordinator = await Coordinator.create({
    stateDir: flags.state,
    log,
    ...(flags.heartbeatMs ? { heartbeatIntervalMs: Number(flags.heartbeatMs) } : {}),
    ...(flags.agentGraceMs ? { disconnectedAgentGraceMs: Number(flags.agentGraceMs) } : {}),
    defaultBudget: { epsilon: Number(flags.defaultEpsilon ?? 3), delta: Number(flags.defaultDelta ?? 1e-6) },
    ...(flags.maxSitesPerPerson ? { maxSitesPerPerson: Number(flags.maxSitesPerPerson) } : {}),
  });
  let server;
  try {
    server = await startCoordinatorServer(coordinator, { listen: flags.listen, tls, insecure: flags.insecure === true });
  } catch (e) {
    await coordinator.close();
    throw e;
  }
  process.stdout.write(`fedmesh coordinator listening on ${server.address}${tls ? ' (mTLS)' : ' (INSECURE)'}\n`);
  const sig = await untilSignal();
  log('shutting-down', { signal: sig });
  await coordinator.close();
  await server.close();
  return 0;
}

export interface AgentFlags extends ConnectionFlags {
  data: string;
  state: string;
  domain?: string;
  minCellSize?: string;
  maxGroups?: string;
  allowModes?: string;
  budgetCapEpsilon?: string;
  budgetCapDelta?: string;
  logFormat?: 'pretty' | 'json' | 'silent';
}

export function parseModes(list: string): PrivacyMode[] {
  const modes = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of modes) {
    if (!(PRIVACY_MODES as readonly string[]).includes(m)) throw new RangeError(`--allow-modes: unknown mode ${quote(m)} (known: ${PRIVACY_MODES.join(', ')})`);
  }
  return modes as PrivacyMode[];
}

/** `fedmesh agent`: ingests its data folder, dials the coordinator and serves until a signal. */
export async function runAgent(flags: AgentFlags): Promise<number> {
  // The agent's database holds patient data and its salt: files it creates are for its owner only.
  process.umask(0o077);
  if (!flags.name) throw new RangeError('--name is required for an agent');
  if (!flags.coordinator) throw new RangeError('--coordinator HOST:PORT is required');
  const log = createLogger(`agent:${flags.name}`, { format: flags.logFormat ?? 'pretty' });
  const tls = tlsFor(flags, 'agent', flags.name);
  const minCellSize = flags.minCellSize === undefined ? undefined : Number(flags.minCellSize);
  const agent = await Agent.create({
    name: flags.name,
    ...(flags.domain ? { domain: flags.domain } : {}),
    dataDir: flags.data,
    stateDir: flags.state,
    coordinator: flags.coordinator,
    ...(tls ? { tls } : { insecure: true }),
    policy: {
      ...(minCellSize !== undefined ? { minCellSize } : {}),
      ...(flags.maxGroups !== undefined ? { maxGroups: Number(flags.maxGroups) } : {}),
      ...(flags.allowModes ? { allowModes: parseModes(flags.allowModes) } : {}),
      budgetCap: { epsilon: Number(flags.budgetCapEpsilon ?? 10), delta: Number(flags.budgetCapDelta ?? 1e-5) },
    },
    log,
  });
  log('products', { names: agent.listProducts().map((p) => p.name) });
  agent.start();
  const sig = await untilSignal();
  log('shutting-down', { signal: sig });
  await agent.stop();
  return 0;
}
