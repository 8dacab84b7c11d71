import { checkContingencyLevel, contingencyValueKind, checkAggregateAgainstSchema } from '../../common/job/index.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { didYouMean } from '../../common/suggest.js';
import type { CellJob } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import { checkPrivacyUnit, splitServeable, type Admitted } from './aggregate-job.js';

/**
 * Which connected agents run a contingency job, checked against the live catalog: the product, the row and column
 * columns, the filter's columns and types, and a known privacy unit. Agents whose registered schema cannot serve it
 * are left out and reported, unless the job names them. Used by the seam's admission of the ported kind
 * (coordinator/rounds/built-in-admission.ts) and by the built-in HE path, which contingency keeps.
 * @throws FedmeshError naming the field
 */
export function admitContingency(spec: CellJob, connected: readonly AgentView[]): Admitted {
  // The old-kinds table sends only contingency specs here (its invariant, as for every entry).
  const job = spec as Extract<CellJob, { kind: 'contingency' }>;
  let candidates = connected.filter((a) => a.products.some((p) => p.name === job.product));
  if (candidates.length === 0) {
    const known = [...new Set(connected.flatMap((a) => a.products.map((p) => p.name)))].sort();
    throw new FedmeshError('NOT_FOUND', `product: no connected agent serves product ${job.product}${didYouMean(job.product, known)} (known products: ${known.join(', ') || 'none'})`, { field: 'product' });
  }
  const check = (a: AgentView): void => {
    const p = a.products.find((x) => x.name === job.product)!;
    for (const [field, col] of [['rowColumn', job.rowColumn], ['colColumn', job.colColumn]] as const) {
      if (!p.columns.some((c) => c.name === col)) throw new FedmeshError('INVALID_JOB', `${field}: unknown column ${col} in product ${job.product}${didYouMean(col, p.columns.map((c) => c.name))}`, { field });
    }
    // Each level of the column's kind, as the agent will bind it: refused here, before any budget is reserved, not by
    // every agent after it (red team 8, F3). A type the agent maps itself (a server's own) is left to the agent.
    for (const [field, name, levels] of [['rowLevels', job.rowColumn, job.rowLevels], ['colLevels', job.colColumn, job.colLevels]] as const) {
      const col = p.columns.find((c) => c.name === name)!;
      const kind = contingencyValueKind(col.type);
      if (kind) levels.forEach((v, i) => checkContingencyLevel(v, kind, col, `${field}[${i}]`));
    }
    checkAggregateAgainstSchema({ kind: 'aggregate', product: job.product, where: job.where, groupBy: [], measures: [{ fn: 'count' }], privacy: job.privacy }, { name: p.name, columns: p.columns });
    checkPrivacyUnit(job, p);
  };
  if (job.agents) {
    for (const [i, name] of job.agents.entries()) {
      const a = candidates.find((x) => x.name === name);
      if (!a) throw new FedmeshError('INVALID_JOB', `agents[${i}]: agent ${name} is not connected or cannot run this job`, { field: `agents[${i}]` });
      try {
        check(a);
      } catch (e) {
        if (isFedmeshError(e)) throw new FedmeshError(e.code, `${e.message} (at agent ${a.name})`, { ...(e.field ? { field: e.field } : {}) });
        throw e;
      }
    }
    candidates = candidates.filter((a) => job.agents!.includes(a.name));
  }
  const admitted = splitServeable(candidates, check);
  if (!admitted.agents.some((a) => a.policy.allowModes.includes(job.privacy.mode))) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: no eligible agent allows mode ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  if (job.quorum !== undefined && job.quorum > admitted.agents.length) {
    throw new FedmeshError('INVALID_JOB', `quorum: ${job.quorum} agents required but only ${admitted.agents.length} can run this job`, { field: 'quorum' });
  }
  return admitted;
}
