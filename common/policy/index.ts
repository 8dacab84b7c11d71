export { AccessPolicyError, compileAccessPolicy, loadAccessPolicy, MAX_POLICY_FILE_BYTES, type AccessDecision, type AccessPolicy } from './access-policy.js';
export { cedarDecimal, toCedarRequest, type AccessPrincipal, type AccessProduct, type AccessRequest } from './access-request.js';
export { CEDAR_ACTIONS, FEDMESH_CEDAR_SCHEMA } from './cedar-schema.js';
