import type { AgentTask } from '../../common/agent-protocol.js';
import type { Coordinator } from '../../coordinator/index.js';

/**
 * Agents attached to an in-process coordinator's registry without a link: each serves a `person` product of the
 * given columns under the given policy and records the tasks it is sent (answering none), so a test sees admission
 * and dispatch alone. Their heartbeats are never sent: they stay live for the liveness timeout (6 s by default).
 */
export function attachAgents(c: Coordinator, names: readonly string[], columns: readonly { name: string; type: string }[], policy: { minCellSize: number; allowModes: string[]; allowKinds: string[]; secureMaxRows: number }): AgentTask[] {
  const sent: AgentTask[] = [];
  for (const name of names) {
    c.registry.attach(
      name,
      { name, domain: name, version: 'test', products: [{ name: 'person', columns, privacyUnit: 'person_id', description: '', metadata: {} }] as never, policy: policy as never, identity: { agent: name } as never },
      (t) => {
        sent.push(t);
        return true;
      },
      () => {},
    );
  }
  return sent;
}
