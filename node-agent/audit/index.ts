export { AgentAudit, AGENT_AUDIT_DIR } from './agent-audit.js';
