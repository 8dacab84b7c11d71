import { combinePartials, finalizeExact, scaleBitsFor, type AgentPartial } from '../../algorithms/aggregate/index.js';
import { decodePartials, type PartialLayout } from '../../common/arrow/partials-codec.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { checkAggregateAgainstSchema } from '../../common/job/schema-check.js';
import { measureField, type AggregateJob } from '../../common/job/spec.js';
import type { AgentView } from '../agent-registry.js';
import type { TaskOutcome } from '../dispatcher.js';
import type { JobErrorInfo, JobResult } from '../job-record.js';

/**
 * Admission of an aggregate job against the live catalog: which agents will be asked, and whether the product
 * and columns exist with the right types at each of them.
 * @throws FedmeshError INVALID_JOB naming the field, POLICY_DENIED when no agent allows the mode
 */
export function admitAggregate(job: AggregateJob, connected: readonly AgentView[]): AgentView[] {
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
    throw new FedmeshError('INVALID_JOB', `product: no connected agent serves product ${job.product} (known products: ${known.join(', ') || 'none'})`, { field: 'product' });
  }
  for (const a of candidates) {
    const product = a.products.find((p) => p.name === job.product)!;
    try {
      checkAggregateAgainstSchema(job, { name: product.name, columns: product.columns, privacyUnit: product.privacyUnit || undefined });
    } catch (e) {
      if (isFedmeshError(e)) throw new FedmeshError(e.code, `${e.message} (at agent ${a.name})`, { ...(e.field ? { field: e.field } : {}) });
      throw e;
    }
  }
  const allowing = candidates.filter((a) => a.policy.allowModes.includes(job.privacy.mode));
  if (allowing.length === 0) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: no agent serving ${job.product} allows mode ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  if (job.quorum !== undefined && job.quorum > candidates.length) {
    throw new FedmeshError('INVALID_JOB', `quorum: ${job.quorum} agents required but only ${candidates.length} serve ${job.product}`, { field: 'quorum' });
  }
  return candidates;
}

export function layoutFor(job: AggregateJob, agent: AgentView): PartialLayout {
  const product = agent.products.find((p) => p.name === job.product)!;
  return job.measures.map((m) => {
    if (m.fn === 'count') return { kind: 'count' };
    if (m.fn === 'histogram') return { kind: 'histogram', bins: m.bins.length - 1 };
    const col = product.columns.find((c) => c.name === m.column)!;
    return { kind: 'moments', scaleBits: scaleBitsFor(col.type, m.bounds) };
  });
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
export function combineAggregate(job: AggregateJob, agents: readonly AgentView[], outcomes: readonly TaskOutcome[]): CombinedAggregate {
  const agentErrors: Record<string, JobErrorInfo> = {};
  const partials: AgentPartial[] = [];
  for (const o of outcomes) {
    if (!o.ok) {
      agentErrors[o.agent] = { code: o.error.code, message: o.error.message, ...(o.error.field ? { field: o.error.field } : {}) };
      continue;
    }
    const agent = agents.find((a) => a.name === o.agent)!;
    try {
      partials.push({ agent: o.agent, groups: decodePartials(o.arrow, o.agent, job.groupBy.length, layoutFor(job, agent)) });
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
  const combined = combinePartials(partials);
  const measures = job.measures.map((m) => ({ fn: m.fn, field: measureField(m) }));
  const released = finalizeExact(combined, measures);
  const groupObj = (key: readonly unknown[]): Record<string, unknown> => Object.fromEntries(job.groupBy.map((g, i) => [g, key[i] ?? null]));
  const minCells = Object.fromEntries(agents.filter((a) => answered.includes(a.name)).map((a) => [a.name, a.policy.minCellSize]));
  return {
    answered,
    missing,
    agentErrors,
    result: {
      columns: [...job.groupBy, ...measures.map((m) => m.field)],
      rows: released.rows.map((r) => ({ ...groupObj(r.key), ...r.values })),
      suppressed: released.suppressed.map((s) => ({ group: groupObj(s.key), suppressedBy: s.suppressedBy.map((a) => (a === 'self' ? '?' : a)) })),
      privacy: { mode: 'none', minCellSize: minCells, exact: true },
      notes: [
        'mode none: exact aggregates; groups and histogram bins below an agent\'s minimum cell size are suppressed at that agent and reported as suppressed, never as zero',
        ...job.measures.filter((m) => m.fn !== 'count' && m.fn !== 'histogram').map((m) => `${measureField(m)}: values clamped to the declared bounds [${(m as { bounds: number[] }).bounds.join(', ')}]`),
      ],
      agentErrors,
    },
  };
}
