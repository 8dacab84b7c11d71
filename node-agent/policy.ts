import { DEFAULT_SECURE_MAX_ROWS } from '../common/secure/index.js';
import { PRIVACY_MODES, type PrivacyMode, validateBudget, type EpsilonDeltaBudget, enforceDomainPolicy } from '../common/job/index.js';

/** A domain's own rules, enforced at the agent whatever the coordinator says. */
export interface AgentPolicyOptions {
  /** Groups (and histogram bins, cohort cells) with fewer distinct persons are withheld in mode `none`. @default 10 */
  minCellSize?: number;
  /** Privacy modes this domain accepts. @default every DP mode, not `none` */
  allowModes?: PrivacyMode[];
  /** Job kinds this domain accepts. @default every kind: aggregate, cohort, characterize, survival, contingency */
  allowKinds?: string[];
  /** This domain's cap on the privacy spent per researcher, over all its products. @default { epsilon: 10, delta: 1e-5 } */
  budgetCap?: EpsilonDeltaBudget;
  /**
   * Most groups one job may release from this agent in mode `none` (DataSHIELD's `nfilter.levels.max`); a job
   * whose result would have more is refused. @default 1000
   */
  maxGroups?: number;
  /**
   * Most (released cell, person) pairs this agent remembers per researcher for the mode-`none` differencing guard;
   * a release that would go beyond is refused (never evicted: forgetting would reopen differencing). @default 2000000
   */
  maxRememberedPersons?: number;
  /**
   * The largest `secureMaxRows` (per-agent bound of a secure job: statistics are clipped to it) this domain accepts;
   * published at registration, a job asking for more is refused from this public number. @default 16777216 (2^24)
   */
  secureMaxRows?: number;
}

export interface CompiledAgentPolicy {
  readonly minCellSize: number;
  readonly allowModes: readonly PrivacyMode[];
  readonly allowKinds: readonly string[];
  readonly budgetCap: Readonly<EpsilonDeltaBudget>;
  readonly maxGroups: number;
  readonly maxRememberedPersons: number;
  readonly secureMaxRows: number;
}

export const DEFAULT_ALLOWED_MODES: readonly PrivacyMode[] = ['central-dp', 'local-dp', 'distributed-dp'];

/** Most groups one mode-none release of an agent may hold when the domain policy does not say. */
export const DEFAULT_MAX_GROUPS = 1000;

/** @throws RangeError naming the option */
export function compileAgentPolicy(o: AgentPolicyOptions = {}): CompiledAgentPolicy {
  const minCellSize = o.minCellSize ?? 10;
  if (!Number.isInteger(minCellSize) || minCellSize < 1) throw new RangeError(`options.minCellSize must be a positive integer, got ${minCellSize}`);
  const allowModes = o.allowModes ?? [...DEFAULT_ALLOWED_MODES];
  for (const m of allowModes) {
    if (!(PRIVACY_MODES as readonly string[]).includes(m)) throw new RangeError(`options.allowModes: unknown privacy mode ${JSON.stringify(m)} (known: ${PRIVACY_MODES.join(', ')})`);
  }
  if (allowModes.length === 0) throw new RangeError('options.allowModes must allow at least one mode');
  const budgetCap = o.budgetCap ?? { epsilon: 10, delta: 1e-5 };
  validateBudget(budgetCap, 'options.budgetCap');
  const maxGroups = o.maxGroups ?? DEFAULT_MAX_GROUPS;
  if (!Number.isInteger(maxGroups) || maxGroups < 1) throw new RangeError(`options.maxGroups must be a positive integer, got ${maxGroups}`);
  const maxRememberedPersons = o.maxRememberedPersons ?? 2_000_000;
  if (!Number.isInteger(maxRememberedPersons) || maxRememberedPersons < 1) throw new RangeError(`options.maxRememberedPersons must be a positive integer, got ${maxRememberedPersons}`);
  const secureMaxRows = o.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
  if (!Number.isSafeInteger(secureMaxRows) || secureMaxRows < 1) throw new RangeError(`options.secureMaxRows must be a positive integer, got ${secureMaxRows}`);
  return Object.freeze({ maxGroups, maxRememberedPersons, secureMaxRows, minCellSize, allowModes: Object.freeze([...allowModes]), allowKinds: Object.freeze([...(o.allowKinds ?? ['aggregate', 'cohort', 'characterize', 'survival', 'contingency'])]), budgetCap: Object.freeze({ ...budgetCap }) });
}

/** The shared check of the published policy (the coordinator applies the same one at admission). */
export function enforcePolicy(policy: CompiledAgentPolicy, kind: string, mode: PrivacyMode): void {
  enforceDomainPolicy(policy, kind, mode);
}
