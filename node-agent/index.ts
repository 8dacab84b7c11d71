export { Agent, type AgentOptions } from './agent.js';
export { compileAgentPolicy, type AgentPolicyOptions, type CompiledAgentPolicy } from './policy.js';
