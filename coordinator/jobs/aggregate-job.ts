import { combinePartials, type AgentPartial } from '../../algorithms/aggregate/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { decodePartials, maxPartialRows } from '../../common/arrow/index.js';
import { planAggregatePrivacy, type AggregatePrivacyPlan, checkAggregateAgainstSchema, checkGroupable, type AggregateJob, type JobSpec } from '../../common/job/index.js';
import { dpAggregateResult, releaseCentral } from '../../jobs/aggregate/release.js';
import { exactAggregateResult, withheldMeasureKey } from '../../jobs/aggregate/exact-release.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { didYouMean } from '../../common/suggest.js';
import type { ProductDescriptor } from '../../common/agent-protocol.js';
import type { AgentView } from '../agent-registry.js';
import type { TaskOutcome } from '../dispatcher.js';
import { aggregateReplyMismatch, refuseMismatch } from '../../jobs/aggregate/reply-check.js';
import type { JobErrorInfo, JobResult, MissingAgent } from '../job-record.js';

/**
 * The agent enforces its manifest; admission already leaves out agents that publish no privacy unit for the
 * product (they would refuse), so that the researcher learns why at submission.
 * @throws FedmeshError FAILED_PRECONDITION naming the product and how its unit is declared
 */
export function checkPrivacyUnit(job: JobSpec, product: ProductDescriptor): void {
  if (product.privacyUnit) return;
  if (job.privacy.mode === 'none' && product.metadata.sensitivity === 'public') return;
  throw new FedmeshError('FAILED_PRECONDITION', `product: ${product.name} has no known privacy unit, so no per-person bound or cell size can be enforced; its domain declares it in the agent's fedmesh.products.json ({"products": {"${product.name}": {"privacyUnit": "<column>"}}})`, { field: 'product' });
}

/** Longest reason kept for an agent left out at admission. */
const MAX_REASON_CHARS = 300;

/** The agents a job will ask, and the connected ones left out with the reason. */
export interface Admitted {
  agents: AgentView[];
  excluded: MissingAgent[];
}

/**
 * Splits candidate agents into those whose registered schema can serve the job and those that cannot (missing
 * columns, wrong types): one agent that registers a stripped product must not make the job fail for everyone. If
 * none can serve it, the job is refused with the first agent's error (its code and field), naming every agent.
 * @throws FedmeshError from `check` when no candidate passes
 */
export function splitServeable(candidates: readonly AgentView[], check: (a: AgentView) => void): Admitted {
  const agents: AgentView[] = [];
  const excluded: MissingAgent[] = [];
  let first: FedmeshError | undefined;
  for (const a of candidates) {
    try {
      check(a);
      agents.push(a);
    } catch (e) {
      if (!isFedmeshError(e)) throw e;
      first ??= e;
      // A hostile registration (thousands of columns) must not blow up the result through the reason's echo.
      const reason = `${e.code}: ${e.message}`;
      excluded.push({ agent: a.name, reason: reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS)}… (cut)` });
    }
  }
  if (agents.length === 0 && first) {
    const why = excluded.length === 1 ? ` (at agent ${excluded[0]!.agent})` : ` (no agent can serve it: ${excluded.map((x) => `${x.agent}: ${x.reason}`).join('; ')})`;
    throw new FedmeshError(first.code, `${first.message}${why}`, { ...(first.field ? { field: first.field } : {}) });
  }
  return { agents, excluded };
}

/**
 * Admission of an aggregate job against the live catalog: which agents will be asked, and whether the product
 * and columns exist with the right types at each of them. Agents whose schema cannot serve the job are left out
 * and reported; agents the job names explicitly must serve it.
 * @throws FedmeshError INVALID_JOB naming the field, POLICY_DENIED when no agent allows the mode
 */
export function admitAggregate(job: AggregateJob, connected: readonly AgentView[]): Admitted {
  let candidates = connected.filter((a) => a.products.some((p) => p.name === job.product));
  if (job.agents) {
    for (const [i, name] of job.agents.entries()) {
      const a = connected.find((x) => x.name === name);
      if (!a) throw new FedmeshError('INVALID_JOB', `agents[${i}]: agent ${name} is not connected`, { field: `agents[${i}]` });
      if (!a.products.some((p) => p.name === job.product)) throw new FedmeshError('INVALID_JOB', `agents[${i}]: agent ${name} has no product ${job.product}`, { field: `agents[${i}]` });
    }
    candidates = candidates.filter((a) => job.agents!.includes(a.name));
  }
  if (candidates.length === 0) {
    const known = [...new Set(connected.flatMap((a) => a.products.map((p) => p.name)))].sort();
    throw new FedmeshError('NOT_FOUND', `product: no connected agent serves product ${job.product}${didYouMean(job.product, known)} (known products: ${known.join(', ') || 'none'})`, { field: 'product' });
  }
  const check = (a: AgentView): void => {
    const product = a.products.find((p) => p.name === job.product)!;
    checkAggregateAgainstSchema(job, { name: product.name, columns: product.columns, privacyUnit: product.privacyUnit || undefined });
    checkPrivacyUnit(job, product);
    const semantic = product.metadata.semanticTypes as Record<string, unknown> | undefined;
    checkGroupable(job, product.name, (c) => (semantic && Object.hasOwn(semantic, c) && typeof semantic[c] === 'string' ? semantic[c] : undefined));
  };
  // Agents named in the job must serve it: the researcher asked for them.
  if (job.agents) {
    for (const a of candidates) {
      try {
        check(a);
      } catch (e) {
        if (isFedmeshError(e)) throw new FedmeshError(e.code, `${e.message} (at agent ${a.name})`, { ...(e.field ? { field: e.field } : {}) });
        throw e;
      }
    }
  }
  const admitted = splitServeable(candidates, check);
  candidates = admitted.agents;
  const allowing = candidates.filter((a) => a.policy.allowModes.includes(job.privacy.mode));
  if (allowing.length === 0) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: no agent serving ${job.product} allows mode ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  if (job.quorum !== undefined && job.quorum > candidates.length) {
    throw new FedmeshError('INVALID_JOB', `quorum: ${job.quorum} agents required but only ${candidates.length} serve ${job.product}`, { field: 'quorum' });
  }
  return admitted;
}

/**
 * An agent's `withheldMeasures` (mode none: [row of its partials, measure index] pairs it withholds), checked against
 * its reply's shape.
 * @throws Error naming the agent when it is malformed (the reply is then refused like an unreadable one)
 */
function withheldMeasuresOf(meta: Record<string, unknown>, rows: number, measures: number, agent: string): [number, number][] {
  const v = meta.withheldMeasures;
  if (v === undefined) return [];
  const ok = Array.isArray(v) && v.length <= rows * measures && v.every((p) => Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && Number.isInteger(p[1]) && p[0] >= 0 && p[0] < rows && p[1] >= 0 && p[1] < measures);
  if (!ok) throw new Error(`agent ${agent} sent a malformed withheldMeasures`);
  return v as [number, number][];
}

/** The privacy plan of a job as one agent will compute it (from that agent's column types). */
export function privacyPlanFor(job: AggregateJob, agent: AgentView): AggregatePrivacyPlan {
  const product = agent.products.find((p) => p.name === job.product)!;
  return planAggregatePrivacy(job, (c) => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR');
}

export interface CombinedAggregate {
  answered: string[];
  missing: string[];
  agentErrors: Record<string, JobErrorInfo>;
  result: JobResult;
}

/**
 * Combines the agents' exact partials and releases them for mode `none` (exact values, small cells already
 * suppressed at the source). The DP modes plug in at the release step.
 * @throws FedmeshError QUORUM_NOT_MET when fewer agents answered than the quorum
 */
export function combineAggregate(job: AggregateJob, agents: readonly AgentView[], outcomes: readonly TaskOutcome[], rng: Rng): CombinedAggregate {
  const agentErrors: Record<string, JobErrorInfo> = {};
  const partials: AgentPartial[] = [];
  // Mode none: (group, measure) pairs an agent withholds (red teams 30 and 31: a count of 1 … k − 1 persons in disguise).
  const withheldMeasures = new Set<string>();
  for (const o of outcomes) {
    if (!o.ok) {
      agentErrors[o.agent] = { code: o.error.code, message: o.error.message, ...(o.error.field ? { field: o.error.field } : {}) };
      continue;
    }
    const agent = agents.find((a) => a.name === o.agent)!;
    try {
      const groups = decodePartials(o.arrow, o.agent, job.groupBy.length, privacyPlanFor(job, agent).layout, maxPartialRows(job.groupBy, job.groupKeys));
      for (const [gi, mi] of withheldMeasuresOf(o.meta, groups.length, job.measures.length, o.agent)) withheldMeasures.add(withheldMeasureKey(groups[gi]!.key, mi));
      partials.push({ agent: o.agent, groups });
    } catch (e) {
      agentErrors[o.agent] = { code: 'INVALID_ARGUMENT', message: (e as Error).message };
    }
  }
  const answered = partials.map((p) => p.agent).sort();
  const missing = agents.map((a) => a.name).filter((n) => !answered.includes(n)).sort();
  const quorum = job.quorum ?? agents.length;
  if (answered.length < quorum) {
    const why = missing.map((m) => `${m}: ${agentErrors[m]?.message ?? 'no answer'}`).join('; ');
    throw new FedmeshError('QUORUM_NOT_MET', `${answered.length} of ${agents.length} agents answered, quorum is ${quorum} (${why})`, {
      details: { answered, missing, agentErrors },
    });
  }
  for (const o of outcomes) {
    if (!o.ok || !answered.includes(o.agent)) continue;
    const agent = agents.find((a) => a.name === o.agent)!;
    const why = aggregateReplyMismatch(job, privacyPlanFor(job, agent), agent, o.meta);
    if (why) throw refuseMismatch(o.agent, why, { answered, missing });
  }
  const combined = combinePartials(partials);
  const base = { answered, missing, agentErrors };
  if (job.privacy.mode === 'none') {
    const minCells = Object.fromEntries(agents.filter((a) => answered.includes(a.name)).map((a) => [a.name, a.policy.minCellSize]));
    // Only how many groups each agent withheld; the key of a withheld group is data and is never listed.
    const withheldGroups: Record<string, number> = {};
    for (const o of outcomes) if (o.ok && answered.includes(o.agent)) withheldGroups[o.agent] = typeof o.meta.withheldGroups === 'number' ? o.meta.withheldGroups : 0;
    return { ...base, result: { ...exactAggregateResult(job, combined, withheldMeasures, minCells, withheldGroups), agentErrors } };
  }
  const plan = privacyPlanFor(job, agents.find((a) => answered.includes(a.name))!);
  // local-dp runs on the kind seam (jobs/aggregate, KindDef.accepts): reaching it here is a routing bug.
  if (job.privacy.mode !== 'central-dp') throw new FedmeshError('INTERNAL', `${job.privacy.mode} aggregate jobs do not take the built-in one-round path`);
  const released = releaseCentral(job, plan, combined, rng);
  const { columns, rows, privacy, notes } = dpAggregateResult(job, plan, released);
  return { ...base, result: { columns, rows, suppressed: [], privacy, notes, agentErrors } };
}
