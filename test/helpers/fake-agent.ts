import type { AgentRegistration, AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { AgentLink } from '../../node-agent/transport/link.js';
import type { TestMesh } from './mesh.js';

/**
 * A hand-made agent on the real AgentLink stream (mTLS with a mesh agent certificate): it registers what the test
 * says and answers tasks as the test says — a hostile or lying agent, as the coordinator sees one.
 */
export async function startFakeAgent(mesh: TestMesh, registration: AgentRegistration, onTask: (t: AgentTask) => Promise<AgentTaskReply>): Promise<AgentLink> {
  const link = new AgentLink({
    coordinator: `127.0.0.1:${mesh.server.port}`,
    tls: loadTlsMaterial(mesh.tlsDir, 'agent', registration.name),
    registration: () => registration,
    onTask,
    log: () => undefined,
  });
  const registered = new Promise<void>((resolve) => link.onRegistered(() => resolve()));
  link.start();
  await registered;
  return link;
}
