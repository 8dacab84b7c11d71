/**
 * The first check on every task that arrives over the link: the researcher's identity, signed by the coordinator
 * and bound to this task. Nothing (policy, ledger, data) runs before it; a task without a valid assertion is
 * refused with UNAUTHENTICATED (missing, tampered, expired, unknown key) or PERMISSION_DENIED (a valid assertion
 * replayed for another job, round, spec, agent or researcher). Tasks handed to the agent in-process (tests, tools)
 * pass {@link inProcessTaskIdentity}: an assertion they carry is verified the same way, and without one they run
 * unverified only where no domain access policy decides on identity.
 */
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { verifyIdentityAssertion, type IdentityAssertionClaims } from '../../common/identity/index.js';
import type { CoordinatorKeyPin } from './coordinator-key.js';

/**
 * @throws FedmeshError UNAUTHENTICATED / POLICY_DENIED from the verification, or UNAUTHENTICATED when no
 * coordinator key is known (none configured, none published at registration)
 */
export function verifyTaskIdentity(task: AgentTask, pin: CoordinatorKeyPin, agentName: string, nowMs = Date.now()): IdentityAssertionClaims {
  const key = pin.current();
  if (!key) throw new FedmeshError('UNAUTHENTICATED', 'identity assertion refused: this agent knows no coordinator key yet (none configured with --coordinator-key, none published at registration)', { field: 'identity_assertion' });
  return verifyIdentityAssertion(task.identityAssertion, key, { jobId: task.jobId, round: task.round, specJson: task.specJson, agent: agentName, researcher: task.researcher, nowMs });
}

type Log = (event: string, fields?: Record<string, unknown>) => void;

/** Wraps the agent's task handler for the link: verify first, then run with the verified identity. */
export function guardLinkTasks(pin: CoordinatorKeyPin, agentName: string, log: Log, run: (task: AgentTask, identity: IdentityAssertionClaims) => Promise<AgentTaskReply>): (task: AgentTask) => Promise<AgentTaskReply> {
  return (task) => {
    let identity: IdentityAssertionClaims;
    try {
      identity = verifyTaskIdentity(task, pin, agentName);
    } catch (e) {
      if (!isFedmeshError(e)) throw e;
      log('task-refused', { jobId: task.jobId.slice(0, 64), taskId: task.taskId.slice(0, 64), kind: task.kind.slice(0, 32), code: e.code, reason: e.message });
      return Promise.resolve({ ok: false, taskId: task.taskId, error: { code: e.code, message: e.message, field: e.field ?? '' } });
    }
    return run(task, identity);
  };
}

export type InProcessIdentity = { ok: true; identity: IdentityAssertionClaims | undefined } | { ok: false; reply: AgentTaskReply };

/**
 * The identity of a task handed to the agent in-process (`agent.handleTask`): no caller can hand in claims of its
 * own. An assertion the task carries is verified exactly as on the link; a task without one runs as `unverified`
 * when the domain has no access policy (today's rules only, which do not depend on identity), and is refused
 * (UNAUTHENTICATED) when it has one, because that policy's decision would rest on an unverified name.
 */
export function inProcessTaskIdentity(task: AgentTask, pin: CoordinatorKeyPin, agentName: string, policyDecides: boolean, log: Log): InProcessIdentity {
  try {
    if (typeof task.identityAssertion === 'string' && task.identityAssertion !== '') return { ok: true, identity: verifyTaskIdentity(task, pin, agentName) };
    if (!policyDecides) return { ok: true, identity: undefined };
    throw new FedmeshError('UNAUTHENTICATED', "identity assertion refused: the task carries no coordinator-signed identity, and this domain's access policy decides on identity", { field: 'identity_assertion' });
  } catch (e) {
    if (!isFedmeshError(e)) throw e;
    log('task-refused', { jobId: task.jobId.slice(0, 64), taskId: task.taskId.slice(0, 64), kind: task.kind.slice(0, 32), code: e.code, reason: e.message, inProcess: true });
    return { ok: false, reply: { ok: false, taskId: task.taskId, error: { code: e.code, message: e.message, field: e.field ?? '' } } };
  }
}
