import { FEDMESH_VERSION, type AgentRegistration, type AgentTask, type AgentTaskReply } from '../../common/agent-protocol.js';
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

/** A fake agent that holds every task it gets until the test lets go: its jobs stay running meanwhile. */
export interface HoldingAgent {
  readonly link: AgentLink;
  /** Resolves when the first task has arrived. */
  readonly taskArrived: Promise<void>;
  /** Answers every held task with a refusal, so their jobs end. */
  letGo(): void;
}

/** Starts a holding agent named `name` serving one product `visits` (unit `pid`) for aggregate jobs in mode none. */
export async function startHoldingAgent(mesh: TestMesh, name: string): Promise<HoldingAgent> {
  const waiting: { taskId: string; resolve: (r: AgentTaskReply) => void }[] = [];
  let arrived: () => void = () => undefined;
  const taskArrived = new Promise<void>((resolve) => (arrived = resolve));
  const link = await startFakeAgent(
    mesh,
    { name, domain: name, version: FEDMESH_VERSION, policy: { minCellSize: 10, allowModes: ['none'], allowKinds: ['aggregate'] }, products: [{ name: 'visits', columns: [{ name: 'pid', type: 'BIGINT' }], privacyUnit: 'pid', description: '', metadata: {} }] },
    (task) =>
      new Promise<AgentTaskReply>((resolve) => {
        waiting.push({ taskId: task.taskId, resolve });
        arrived();
      }),
  );
  return {
    link,
    taskArrived,
    letGo: () => {
      for (const w of waiting.splice(0)) w.resolve({ ok: false, taskId: w.taskId, error: { code: 'INVALID_ARGUMENT', message: 'let go', field: '' } });
    },
  };
}
