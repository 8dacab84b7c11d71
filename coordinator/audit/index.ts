export { CoordinatorAudit, AUDIT_DIR } from './coordinator-audit.js';
export { crossCheckLedger, ledgerRefCollector, type AuditedLedgerRef, type ChainRow } from './ledger-cross-check.js';
