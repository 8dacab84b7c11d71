export { createAgentGate, kindGateJob, type GateJob, type AgentGate, type AgentGateOptions, type AuthorizationRequest, type AuthorizationResult, type PolicyDecisionEvent } from './authorize.js';
export { ConsentScopes, taskPurpose, type ConsentTaskContext } from './consent-context.js';
export { isConsentFileName } from './consent-files.js';
