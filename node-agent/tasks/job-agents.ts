/**
 * A job that names its agents (`agents`) runs on those only, whatever the coordinator sends: the one rule, for the
 * kind seam and the built-in path alike (serve-task, kind-task-runner, both secure-sum runners).
 */
import { FedmeshError } from '../../common/errors.js';

/** @throws FedmeshError POLICY_DENIED when the job names agents and `me` is not one of them */
export function refuseUnlessNamed(agents: readonly string[] | undefined, me: string): void {
  if (agents && !agents.includes(me)) throw new FedmeshError('POLICY_DENIED', `agents: this agent (${me}) is not among the job's agents`, { field: 'agents' });
}

/** @throws FedmeshError POLICY_DENIED naming the first participant of a secure round outside the job's agents */
export function refuseParticipantsOutside(agents: readonly string[] | undefined, participants: readonly { readonly id: string }[]): void {
  const outside = agents ? participants.find((p) => !agents.includes(p.id)) : undefined;
  if (outside) throw new FedmeshError('POLICY_DENIED', `refusing the round: participant ${outside.id.slice(0, 64)} is not among the job's agents`, { field: 'agents' });
}
