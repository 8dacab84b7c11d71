import { DEFAULT_PURPOSE, parseProject, PURPOSE_OF_USE_CODES } from '../job/index.js';
import type { KindJobCommon } from './kind.js';

/**
 * What a log line or an audit entry may say about a compiled job, at the coordinator and at the agent: its kind and
 * public privacy parameters, and its purpose and project when they are the validated codes (a registry kind's spec
 * is only known to be JSON here, so anything else is the default purpose and no project). Never a spec value the
 * researcher typed beyond these. Built-in jobs log the same fields (coordinator/job-log.ts, node-agent/tasks).
 */
export function kindJobPublicFields(job: KindJobCommon & { readonly spec: unknown }): Record<string, string | number> {
  const spec = (typeof job.spec === 'object' && job.spec !== null ? job.spec : {}) as { purpose?: unknown; project?: unknown };
  const purpose = typeof spec.purpose === 'string' && PURPOSE_OF_USE_CODES.includes(spec.purpose) ? spec.purpose : DEFAULT_PURPOSE;
  const project = validProject(spec.project);
  return {
    kind: job.kind,
    privacyMode: job.privacy.mode,
    ...(job.privacy.delta !== undefined ? { delta: job.privacy.delta } : {}),
    ...(job.secure !== 'plain' ? { secure: job.secure } : {}),
    purpose,
    ...(project !== undefined ? { project } : {}),
  };
}

function validProject(v: unknown): string | undefined {
  try {
    return v === undefined ? undefined : parseProject(v);
  } catch {
    return undefined;
  }
}
