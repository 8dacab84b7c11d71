/**
 * The first check on every task that arrives over the link: the researcher's identity, signed by the coordinator
 * and bound to this task. Nothing (policy, ledger, data) runs before it; a task without a valid assertion is
 * refused with UNAUTHENTICATED (missing, tampered, expired, unknown key) or PERMISSION_DENIED (a valid assertion
 * replayed for another job, round, spec, agent or researcher). Tasks handed to the agent in-process (tests, tools)
 * do not pass here and carry no verified identity.
 */
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { verifyIdentityAssertion, type IdentityAssertionClaims } from '../../common/identity/identity-assertion.js';
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
