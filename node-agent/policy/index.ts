export { createAgentGate, type AgentGate, type AgentGateOptions, type AuthorizationRequest, type AuthorizationResult, type PolicyDecisionEvent } from './authorize.js';
