import type { PrivacyCost } from '../algorithms/dp/index.js';
import { epsilonSpent, purposeOf } from '../common/job/index.js';
import { kindJobPublicFields, type KindJobCommon } from '../common/kinds/index.js';
import type { JobSpec } from '../common/job/index.js';

/**
 * The ε a job's reservation amounts to, for logs and metrics: its direct ε when it has one, else its zCDP cost
 * converted at `delta` (the coordinator's default budget δ). 0 in mode none.
 */
export function chargedEpsilon(cost: PrivacyCost | undefined, delta: number): number {
  if (!cost) return 0;
  if (Number.isFinite(cost.epsilon)) return cost.epsilon;
  const e = epsilonSpent(cost, delta);
  return Number.isFinite(e) ? e : 0;
}

/**
 * The only job fields a log line carries: identifiers and public privacy parameters. Never the spec's filters,
 * columns, concept sets or any value the researcher typed beyond these.
 */
export function jobLogFields(jobId: string, researcher: string, spec: Pick<JobSpec, 'kind' | 'privacy' | 'purpose' | 'project'> & { secure?: string }, epsilon: number): Record<string, unknown> {
  return {
    jobId,
    researcher,
    kind: spec.kind,
    privacyMode: spec.privacy.mode,
    epsilon,
    ...(spec.privacy.delta !== undefined ? { delta: spec.privacy.delta } : {}),
    ...(spec.secure ? { secure: spec.secure } : {}),
    // The purpose of use and approval are validated codes (never free text), so they may be logged verbatim.
    purpose: purposeOf(spec),
    ...(spec.project ? { project: spec.project } : {}),
  };
}

/** The same fields for a job on the kind seam, so its log lines and audit entries (`job.released`, `job.failed`) carry what a built-in job's do. */
export function kindJobLogFields(jobId: string, researcher: string, job: KindJobCommon & { readonly spec: unknown }, epsilon: number): Record<string, unknown> {
  const { kind, privacyMode, ...rest } = kindJobPublicFields(job);
  return { jobId, researcher, kind, privacyMode, epsilon, ...rest };
}
