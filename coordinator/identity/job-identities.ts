/**
 * Who each running job runs for, and the signed assertion that says so on each of its tasks. The coordinator
 * registers a job's principal and purpose at admission and forgets them when the job ends; the dispatcher stamps
 * every task it sends (whatever the kind or the secure protocol) with an assertion bound to that task.
 */
import type { AgentTask } from '../../common/agent-protocol.js';
import { signIdentityAssertion, specSha256Hex, type IdentityAssertionClaims } from '../../common/identity/index.js';
import { purposeOf } from '../../common/job/index.js';
import type { JobSpec } from '../../common/job/index.js';
import type { IdentityKeyPair } from '../../common/crypto/index.js';
import type { Principal } from '../principal.js';

type JobIdentity = Omit<IdentityAssertionClaims, 'jobId' | 'round' | 'specSha256' | 'agent' | 'issuedAtMs' | 'expiresAtMs'>;

/** How long after a task's deadline its assertion still verifies (clock skew is added by the agent). */
const ASSERTION_AFTER_DEADLINE_MS = 5_000;

export class JobIdentities {
  private readonly jobs = new Map<string, JobIdentity>();

  constructor(private readonly key: IdentityKeyPair) {}

  /** The public key agents verify with (32 raw bytes). */
  get publicKey(): Uint8Array {
    return this.key.publicKey;
  }

  register(jobId: string, caller: Principal, spec: Pick<JobSpec, 'purpose' | 'project'>): void {
    const a = caller.attributes;
    this.jobs.set(jobId, {
      v: 1,
      researcher: caller.name,
      authenticatedBy: caller.authenticatedBy ?? 'certificate',
      attributes: { ...(a?.organisation ? { organisation: a.organisation } : {}), roles: [...(a?.roles ?? [])], purposes: [...(a?.purposes ?? [])], projects: [...(a?.projects ?? [])] },
      purpose: purposeOf(spec),
      ...(spec.project ? { project: spec.project } : {}),
    });
  }

  forget(jobId: string): void {
    this.jobs.delete(jobId);
  }

  /** The assertion for `task` sent to `agent`, or undefined for a job that was not registered (never expected). */
  stamp(agent: string, task: Omit<AgentTask, 'taskId'>, nowMs = Date.now()): string | undefined {
    const id = this.jobs.get(task.jobId);
    if (!id) return undefined;
    return signIdentityAssertion(
      { ...id, jobId: task.jobId, round: task.round, specSha256: specSha256Hex(task.specJson), agent, issuedAtMs: nowMs, expiresAtMs: Math.max(nowMs, task.deadlineMs) + ASSERTION_AFTER_DEADLINE_MS },
      this.key.privateKey,
    );
  }
}
