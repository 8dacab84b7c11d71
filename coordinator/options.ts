import type { AccessPolicy } from '../common/policy/index.js';
import type { Rng } from '../algorithms/rng.js';
import { MAX_SITES_PER_PERSON } from '../common/job/index.js';
import type { EpsilonDeltaBudget } from '../common/job/index.js';

export interface CoordinatorOptions {
  stateDir: string;
  /** @default 2000 */
  heartbeatIntervalMs?: number;
  /** @default 3 × heartbeatIntervalMs */
  livenessTimeoutMs?: number;
  /**
   * An agent link on which tasks wait while the agent takes nothing from its stream for this long is closed
   * (RESOURCE_EXHAUSTED) and the agent counts as gone: its heartbeats alone do not keep it, since a link that is
   * not read makes the coordinator hold every later task's payload. @default 60000
   */
  linkStallTimeoutMs?: number;
  /** Budget per researcher × population where none was set. @default { epsilon: 3, delta: 1e-6 } */
  defaultBudget?: EpsilonDeltaBudget;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /** Also export Node process metrics (CPU, heap, event loop) with the job metrics. @default true */
  processMetrics?: boolean;
  /**
   * Mesh-wide public assumption: a person is at no more than this many sites. Every DP job's sensitivity is
   * multiplied by it (a job may state a larger value, never a smaller one) and every DP result states it. @default 1
   */
  maxSitesPerPerson?: number;
  /**
   * Jobs one researcher may have running (admitted, not ended) at once; one more is refused RESOURCE_EXHAUSTED before
   * anything is charged or stored, so one researcher cannot fill the coordinator and the agents' queues. @default 32
   */
  maxRunningJobsPerResearcher?: number;
  /**
   * Tests only: runs before each round of a registry-kind job is dispatched, with a signal aborted when the
   * coordinator stops (a test stops the coordinator between rounds to prove the job resumes). Never set by the CLI.
   */
  testOnlyBeforeRound?: (jobId: string, round: number, signal: AbortSignal) => Promise<void>;
  /** TESTS ONLY: a seeded Rng for the DP noise (see `createServerRng`); the CLI never sets it. @default the CSPRNG */
  testOnlyRng?: Rng;
  /** Start although the privacy ledger lost changes the audit log recorded; the decision is audited. @default false */
  acceptLedgerLoss?: boolean;
  /** Mesh-wide Cedar access policy, pre-checked at submission (see coordinator/admission/mesh-policy.ts). @default none */
  accessPolicy?: AccessPolicy;
}

export interface CompiledCoordinatorOptions {
  readonly stateDir: string;
  readonly heartbeatIntervalMs: number;
  readonly livenessTimeoutMs: number;
  readonly linkStallTimeoutMs: number;
  readonly defaultBudget: Readonly<EpsilonDeltaBudget>;
  readonly maxSitesPerPerson: number;
  readonly maxRunningJobsPerResearcher: number;
  readonly accessPolicy?: AccessPolicy | undefined;
}

/** @throws RangeError naming the option */
export function compileCoordinatorOptions(o: CoordinatorOptions): CompiledCoordinatorOptions {
  if (!o.stateDir) throw new RangeError('options.stateDir is required');
  const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 2000;
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 50) throw new RangeError('options.heartbeatIntervalMs must be an integer >= 50');
  const livenessTimeoutMs = o.livenessTimeoutMs ?? 3 * heartbeatIntervalMs;
  if (!Number.isInteger(livenessTimeoutMs) || livenessTimeoutMs <= heartbeatIntervalMs) throw new RangeError('options.livenessTimeoutMs must be an integer above heartbeatIntervalMs');
  const linkStallTimeoutMs = o.linkStallTimeoutMs ?? 60_000;
  if (!Number.isInteger(linkStallTimeoutMs) || linkStallTimeoutMs < 50) throw new RangeError('options.linkStallTimeoutMs must be an integer >= 50');
  const defaultBudget = Object.freeze({ ...(o.defaultBudget ?? { epsilon: 3, delta: 1e-6 }) });
  const maxSitesPerPerson = o.maxSitesPerPerson ?? 1;
  if (!Number.isInteger(maxSitesPerPerson) || maxSitesPerPerson < 1 || maxSitesPerPerson > MAX_SITES_PER_PERSON) throw new RangeError(`options.maxSitesPerPerson must be an integer between 1 and ${MAX_SITES_PER_PERSON}`);
  const maxRunningJobsPerResearcher = o.maxRunningJobsPerResearcher ?? 32;
  if (!Number.isInteger(maxRunningJobsPerResearcher) || maxRunningJobsPerResearcher < 1 || maxRunningJobsPerResearcher > 10_000) throw new RangeError('options.maxRunningJobsPerResearcher must be an integer between 1 and 10000');
  return Object.freeze({ stateDir: o.stateDir, heartbeatIntervalMs, livenessTimeoutMs, linkStallTimeoutMs, defaultBudget, maxSitesPerPerson, maxRunningJobsPerResearcher, accessPolicy: o.accessPolicy });
}
