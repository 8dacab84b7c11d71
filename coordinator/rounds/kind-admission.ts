import { FedmeshError, quote } from '../../common/errors.js';
import { enforceDomainPolicy, populationsTouched, type PopulationTouch } from '../../common/job/index.js';
import { compileKindJob, type AnyKindDef, type CompiledKindJob } from '../../common/kinds/index.js';
import { agreedSecureMaxRows, checkSecureMaxRows, DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/index.js';
import type { AgentMember, AgentView } from '../agent-registry.js';
import { notLiveReason } from '../admission/quorum.js';

export interface KindAdmission {
  agents: AgentView[];
  touched: PopulationTouch[];
}

/**
 * Which agents a registry-kind job runs on, decided from public information before anything is charged: every
 * member that serves the job's product must be live and must publish a policy that accepts the kind and the
 * privacy mode (the default quorum: a multi-round model over a changing set of sites would not be the model the
 * researcher asked for). Agents that do not serve the product are not asked.
 * @throws FedmeshError FAILED_PRECONDITION (no agent serves the product), QUORUM_NOT_MET (a serving member is not
 * live), POLICY_DENIED naming the agent and the field
 */
export function admitKindJob(job: CompiledKindJob, members: readonly AgentMember[], connected: readonly AgentView[]): KindAdmission {
  // A job that names its agents (`agents`) runs on those only; each must be a member serving the product.
  const named = job.agents;
  const asked = (name: string): boolean => named === undefined || named.includes(name);
  named?.forEach((name, i) => {
    if (!members.some((m) => m.name === name && m.products.includes(job.product))) throw new FedmeshError('FAILED_PRECONDITION', `agents[${i}]: ${quote(name)} is not a member agent serving product ${quote(job.product)}`, { field: `agents[${i}]` });
  });
  const serving = connected.filter((a) => asked(a.name) && a.products.some((p) => p.name === job.product));
  const live = new Set(connected.map((a) => a.name));
  const away = members.filter((m) => asked(m.name) && m.products.includes(job.product) && !live.has(m.name));
  if (away.length > 0) {
    const m = away[0]!;
    throw new FedmeshError('QUORUM_NOT_MET', `agent ${m.name} serves product ${job.product} but is ${notLiveReason(m)}${away.length > 1 ? ` (and ${away.length - 1} more)` : ''}; a ${job.kind} job needs every agent that serves its product`, { field: 'product' });
  }
  if (serving.length === 0) throw new FedmeshError('FAILED_PRECONDITION', `product: ${quote(job.product)} is served by no connected agent`, { field: 'product' });
  for (const a of serving) {
    try {
      enforceDomainPolicy(a.policy, job.kind, job.privacy.mode);
    } catch (e) {
      if (e instanceof FedmeshError) throw new FedmeshError(e.code, `agent ${a.name}: ${e.message}`, { ...(e.field ? { field: e.field } : {}) });
      throw e;
    }
  }
  const quorumField = job.minAgentsField ?? 'quorum';
  if (serving.length < job.minAgents) throw new FedmeshError('QUORUM_NOT_MET', `${quorumField}: ${serving.length} agents serve product ${job.product}, the job needs at least ${job.minAgents}`, { field: quorumField });
  return { agents: serving, touched: populationsTouched(serving.map((a) => a.products.filter((p) => p.name === job.product))) };
}

/**
 * A secure job of a kind whose blocks scale with rows (`KindDef.secureRowBound`): its per-agent row bound checked
 * against what the admitted agents publish, and in mode none made the one value they all publish (filled in when the
 * spec gives none; another value is refused naming the field). Returns the job, compiled again when the bound was
 * filled in. Plain jobs and other kinds: unchanged.
 * @throws FedmeshError as checkSecureMaxRows, naming the kind's field
 */
export function settleRowBound(def: AnyKindDef, job: CompiledKindJob, agents: readonly AgentView[]): CompiledKindJob {
  const bound = def.secureRowBound;
  if (!bound || job.secure === 'plain') return job;
  const parties = agents.map((a) => ({ name: a.name, secureMaxRows: a.policy.secureMaxRows, minCellSize: a.policy.minCellSize }));
  const fill = job.privacy.mode === 'none' && bound.of(job.spec) === undefined && parties.length > 0;
  const spec = fill ? bound.withBound(job.spec, agreedSecureMaxRows(parties)) : job.spec;
  const rows = bound.of(spec);
  checkSecureMaxRows({ ...(rows !== undefined ? { secureMaxRows: rows } : {}), privacy: job.privacy }, parties, bound.field);
  return fill ? compileKindJob(def, spec) : job;
}

/**
 * A ported built-in kind's secure job in mode none (`KindDef.builtInSpec`: `secureMaxRows`): without a bound in the
 * spec, the agents' agreed one is filled in (the spec compiled again) when it is not the default an absent bound
 * means, as the built-in secure admission did, so that agents publishing another bound can run it; the agents check
 * the stored value against their own (kind-task-runner.ts). Other jobs: unchanged.
 * @throws FedmeshError FAILED_PRECONDITION when the agents publish different maxima (agreedSecureMaxRows)
 */
export function settleBuiltInRowBound(def: AnyKindDef, job: CompiledKindJob, agents: readonly AgentView[]): CompiledKindJob {
  if (!def.builtInSpec || job.secure === 'plain' || job.privacy.mode !== 'none' || agents.length === 0) return job;
  const spec = job.spec as { secureMaxRows?: number };
  if (spec.secureMaxRows !== undefined) return job;
  const agreed = agreedSecureMaxRows(agents.map((a) => ({ name: a.name, secureMaxRows: a.policy.secureMaxRows, minCellSize: a.policy.minCellSize })));
  return agreed === DEFAULT_SECURE_MAX_ROWS ? job : compileKindJob(def, { ...spec, secureMaxRows: agreed });
}

/**
 * The note every secure result of such a kind carries, whatever the data: what the row bound is and what projecting
 * onto it can change (red team 28: in mode none a site beyond it got a clipped fit and nothing said so). Stated
 * unconditionally, because whether any agent was beyond it is itself data.
 */
export function rowBoundNotes(def: AnyKindDef, job: CompiledKindJob): string[] {
  const bound = def.secureRowBound;
  if (!bound || job.secure === 'plain') return [];
  const rows = bound.of(job.spec) ?? DEFAULT_SECURE_MAX_ROWS;
  if (job.privacy.mode === 'none' && bound.refusesInModeNone) {
    return [`${bound.field} ${rows}: the agents' agreed per-agent bound under the secure sum; an agent with more than ${rows} rows on a side is refused (FAILED_PRECONDITION naming ${bound.field}) and left out, never clipped`];
  }
  const dp = job.privacy.mode === 'none' ? '' : '; the projection is 1-Lipschitz, so the stated privacy holds';
  return [`${bound.field} ${rows}: every agent projects each round's statistics onto their public bounds (${rows} rows × each statistic's per-row bound) before the secure sum, so a figure differs from the exact one only where an agent holds more than ${rows} rows; no agent refuses on a value, and nobody is told whether any did${dp}`];
}
