export { Agent, type AgentOptions } from './agent.js';
export { compileAgentPolicy, type AgentPolicyOptions, type CompiledAgentPolicy } from './policy.js';
export { AgentMetrics } from './metrics.js';
export type { AgentHealth } from './agent.js';
/** The name under which an agent reports health (besides the overall ''). */
export const AGENT_HEALTH_SERVICE = 'fedmesh.v1.Agent';
