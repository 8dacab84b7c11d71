export { CoordinatorAudit, AUDIT_DIR } from './coordinator-audit.js';
export { crossCheckLedger, type AuditedLedgerRef, type ChainRow } from './ledger-cross-check.js';
