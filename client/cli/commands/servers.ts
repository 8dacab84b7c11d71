import { agentDataOptions, type AgentDatabaseFlags } from './agent-database.js';
import { checkCoordinatorState, Coordinator, COORDINATOR_HEALTH_SERVICE, startCoordinatorServer } from '../../../coordinator/index.js';
import { quote } from '../../../common/errors.js';
import { createLogger, parseLogLevel, type LogFn, type LogFormat } from '../../../common/logger.js';
import { parseMetricsPort, startMetricsServer, type RunningMetricsServer } from '../../../common/ops/index.js';
import { checkHealth, HealthReporter, startHealthServer, type RunningHealthServer } from '../../../common/transport/index.js';
import type { Registry } from 'prom-client';
import { PRIVACY_MODES, type PrivacyMode } from '../../../common/job/index.js';
import { Agent, AGENT_HEALTH_SERVICE } from '../../../node-agent/index.js';
import { checkAddress } from '../../sdk/config.js';
import { tlsFor, untilSignal, type ConnectionFlags } from './common.js';
import { oidcFromFlags, type OidcFlags } from './oidc-flags.js';
import { agentGovernance, loadPolicyFlag, type AgentGovernanceFlags } from './agent-governance.js';
import { AccessPolicyError } from '../../../common/policy/index.js';
import { startDashboardFlag, type DashboardFlags } from './dashboard-flag.js';

/** `--log-*`, `--metrics-*` and `--health-listen`, shared by both servers. */
export interface OperationsFlags {
  logFormat?: LogFormat;
  logLevel?: string;
  metricsPort?: string;
  metricsHost?: string;
  healthListen?: string;
}

/** Validates the operations flags before anything starts, so a typo fails at once with the option's name. */
function compileOperations(flags: OperationsFlags, component: string): { log: LogFn; metricsPort: number | undefined } {
  const level = parseLogLevel(flags.logLevel ?? 'info');
  const metricsPort = flags.metricsPort === undefined ? undefined : parseMetricsPort(flags.metricsPort);
  if (flags.healthListen !== undefined && !/^[^\s]+:\d{1,5}$/.test(flags.healthListen)) throw new RangeError('--health-listen must be HOST:PORT');
  return { log: createLogger(component, { format: flags.logFormat ?? 'pretty', level }), metricsPort };
}

/** Starts the optional metrics endpoint and health listener; `stop` closes what was started. */
async function startOperations(flags: OperationsFlags, metricsPort: number | undefined, registry: Registry, health: HealthReporter, log: LogFn): Promise<{ stop(): Promise<void> }> {
  let metrics: RunningMetricsServer | undefined;
  let probe: RunningHealthServer | undefined;
  try {
    if (metricsPort !== undefined) {
      metrics = await startMetricsServer({ registry, port: metricsPort, host: flags.metricsHost ?? '127.0.0.1' });
      log('metrics-listening', { url: metrics.url });
      process.stdout.write(`metrics on ${metrics.url}\n`);
    }
    if (flags.healthListen !== undefined) {
      probe = await startHealthServer(flags.healthListen, health);
      log('health-listening', { address: probe.address });
      process.stdout.write(`health on ${probe.address}\n`);
    }
  } catch (e) {
    await metrics?.close();
    throw e;
  }
  return {
    async stop() {
      await probe?.close();
      await metrics?.close();
    },
  };
}

/** Keeps `health` in step with the agent: SERVING only with a clean ingest and a registered link; changes are logged. */
export function reportAgentHealth(agent: Agent, health: HealthReporter, log: LogFn): void {
  agent.onHealthChange((h) => {
    const status = h.serving ? 'SERVING' : 'NOT_SERVING';
    if (status !== health.status) log('health-changed', { status, reasons: h.reasons });
    health.set(status);
  });
}

/** `fedmesh health HOST:PORT`: 0 when the service answers SERVING, 1 otherwise (and prints the status). */
export async function runHealth(address: string, opts: { service?: string; timeoutMs?: string }): Promise<number> {
  const timeoutMs = Number(opts.timeoutMs ?? 3000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw new RangeError('--timeout-ms must be an integer between 1 and 60000');
  try {
    const status = await checkHealth(address, { service: opts.service ?? '', timeoutMs });
    process.stdout.write(`${status}\n`);
    return status === 'SERVING' ? 0 : 1;
  } catch (e) {
    process.stdout.write(`UNREACHABLE (${quote((e as Error).message, 200)})\n`);
    return 1;
  }
}

export interface CoordinatorFlags extends ConnectionFlags, OperationsFlags, OidcFlags, DashboardFlags {
  listen?: string;
  state: string;
  checkState?: boolean;
  heartbeatMs?: string;
  defaultEpsilon?: string;
  maxSitesPerPerson?: string;
  maxRunningJobs?: string;
  defaultDelta?: string;
  acceptLedgerLoss?: boolean;
  policy?: string;
  policySchema?: string;
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
  const { log, metricsPort } = compileOperations(flags, 'coordinator');
  const tls = tlsFor(flags, 'coordinator');
  const oidc = oidcFromFlags(flags);
  const accessPolicy = await loadPolicyFlag(flags);
  const coordinator = await Coordinator.create({
    ...(accessPolicy ? { accessPolicy } : {}),
    stateDir: flags.state,
    log,
    ...(flags.heartbeatMs ? { heartbeatIntervalMs: Number(flags.heartbeatMs) } : {}),
    defaultBudget: { epsilon: Number(flags.defaultEpsilon ?? 3), delta: Number(flags.defaultDelta ?? 1e-6) },
    ...(flags.maxSitesPerPerson ? { maxSitesPerPerson: Number(flags.maxSitesPerPerson) } : {}),
    ...(flags.maxRunningJobs ? { maxRunningJobsPerResearcher: Number(flags.maxRunningJobs) } : {}),
    ...(flags.acceptLedgerLoss ? { acceptLedgerLoss: true } : {}),
  });
  const health = new HealthReporter(COORDINATOR_HEALTH_SERVICE);
  let server;
  let ops;
  let stopDashboard: (() => Promise<void>) | undefined;
  try {
    server = await startCoordinatorServer(coordinator, { listen: flags.listen, tls, insecure: flags.insecure === true, health, ...(oidc ? { oidc } : {}) });
    ops = await startOperations(flags, metricsPort, coordinator.metrics.registry, health, log);
    stopDashboard = await startDashboardFlag(flags, coordinator, tls, oidc);
  } catch (e) {
    await ops?.stop();
    await server?.close();
    await coordinator.close();
    throw e;
  }
  process.stdout.write(`fedmesh coordinator listening on ${server.address}${tls ? (oidc ? ' (TLS; client certificates or OIDC bearer tokens)' : ' (mTLS)') : ' (INSECURE)'}\n`);
  const sig = await untilSignal();
  log('shutting-down', { signal: sig });
  health.set('NOT_SERVING');
  await stopDashboard();
  // The listener first (no new calls or agent links from here), then the coordinator under it, then wait for the
  // listener: closed the other way round, agents reconnected to a closing coordinator whose audit log and stores were
  // shut, and their entries were lost (red team 41, B F7).
  const stopping = server.close();
  await coordinator.close();
  await stopping;
  await ops.stop();
  return 0;
}

export interface AgentFlags extends ConnectionFlags, OperationsFlags, AgentGovernanceFlags, AgentDatabaseFlags {
  state: string;
  domain?: string;
  minCellSize?: string;
  maxGroups?: string;
  secureMaxRows?: string;
  allowModes?: string;
  budgetCapEpsilon?: string;
  budgetCapDelta?: string;
  reloadIntervalMs?: string;
  vocabularyComplete?: boolean;
  streamRows?: boolean;
  streamRowsAbove?: string;
  maxConcurrentTasks?: string;
}

/** `--stream-rows` (every job) or `--stream-rows-above N` (jobs over a product of more than N rows); absent: the agent's default. */
export function parseStreamRows(flags: { streamRows?: boolean; streamRowsAbove?: string }): true | { aboveRows: number } | undefined {
  if (flags.streamRows === true && flags.streamRowsAbove !== undefined) throw new RangeError('--stream-rows and --stream-rows-above: give one (--stream-rows streams every job)');
  if (flags.streamRows === true) return true;
  if (flags.streamRowsAbove === undefined) return undefined;
  const v = flags.streamRowsAbove;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new RangeError(`--stream-rows-above must be a non-negative integer (rows), got ${quote(v)}`);
  return { aboveRows: n };
}

/** `--reload-interval-ms`: an integer of at least 100, or absent (reload on SIGHUP only). */
export function parseReloadInterval(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 100) throw new RangeError(`--reload-interval-ms must be an integer of at least 100 (ms), got ${quote(v)}`);
  return n;
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
  checkAddress(flags.coordinator);
  const { log, metricsPort } = compileOperations(flags, `agent:${flags.name}`);
  const tls = tlsFor(flags, 'agent', flags.name);
  const minCellSize = flags.minCellSize === undefined ? undefined : Number(flags.minCellSize);
  const reloadIntervalMs = parseReloadInterval(flags.reloadIntervalMs);
  const streamRows = parseStreamRows(flags);
  const maxConcurrentTasks = flags.maxConcurrentTasks === undefined ? undefined : Number(flags.maxConcurrentTasks);
  if (maxConcurrentTasks !== undefined && !(Number.isInteger(maxConcurrentTasks) && maxConcurrentTasks >= 1 && maxConcurrentTasks <= 1024)) throw new RangeError('--max-concurrent-tasks must be an integer between 1 and 1024');
  const governance = agentGovernance(flags);
  const data = agentDataOptions(flags, process.env);
  const agent = await Agent.create({
    ...governance,
    ...(reloadIntervalMs !== undefined ? { reloadIntervalMs } : {}),
    ...(flags.vocabularyComplete === true ? { vocabularyComplete: true } : {}),
    ...(streamRows !== undefined ? { streamRows } : {}),
    ...(maxConcurrentTasks !== undefined ? { maxConcurrentTasks } : {}),
    name: flags.name,
    ...(flags.domain ? { domain: flags.domain } : {}),
    ...data,
    stateDir: flags.state,
    coordinator: flags.coordinator,
    ...(tls ? { tls } : { insecure: true }),
    policy: {
      ...(minCellSize !== undefined ? { minCellSize } : {}),
      ...(flags.maxGroups !== undefined ? { maxGroups: Number(flags.maxGroups) } : {}),
      ...(flags.secureMaxRows !== undefined ? { secureMaxRows: Number(flags.secureMaxRows) } : {}),
      ...(flags.allowModes ? { allowModes: parseModes(flags.allowModes) } : {}),
      budgetCap: { epsilon: Number(flags.budgetCapEpsilon ?? 10), delta: Number(flags.budgetCapDelta ?? 1e-5) },
    },
    log,
  }).catch((e: unknown) => {
    // A bad policy stops the agent, naming the file and line: a configuration (usage) error.
    throw e instanceof AccessPolicyError ? new RangeError(`--policy: ${e.message}`, { cause: e }) : e;
  });
  log('products', { names: agent.listProducts().map((p) => p.name) });
  const health = new HealthReporter(AGENT_HEALTH_SERVICE);
  let ops;
  try {
    ops = await startOperations(flags, metricsPort, agent.metrics.registry, health, log);
  } catch (e) {
    await agent.stop();
    throw e;
  }
  reportAgentHealth(agent, health, log);
  agent.start();
  // SIGHUP re-reads the data folder without a restart (changed files only; deleted files stop being served).
  const onHangup = (): void => {
    log('reload-requested', { signal: 'SIGHUP' });
    agent.reload().catch((e: unknown) => log('reload-failed', { error: e instanceof Error ? e.name : typeof e }));
  };
  process.on('SIGHUP', onHangup);
  const sig = await untilSignal();
  process.off('SIGHUP', onHangup);
  log('shutting-down', { signal: sig });
  await agent.stop();
  await ops.stop();
  return 0;
}
