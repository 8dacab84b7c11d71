export { leafHash, nodeHash, merkleRoot, MerkleFrontier } from './merkle.js';
export { entryText, parseLine, signedLine, isAuditType, pickAuditFields, MAX_ENTRY_BYTES, type AuditEntry, type AuditFields, type AuditValue } from './entry.js';
export { checkpointLine, parseCheckpointLine, type Checkpoint } from './checkpoint.js';
export { verifyAuditLog, type AuditProblem, type AuditProblemKind, type AuditVerifyReport, type AuditSegmentText } from './verify.js';
export { CHECKPOINTS_FILE, PUBLIC_KEY_FILE, SIGNING_KEY_FILE, keyFingerprint, listSegments, readCheckpoints, readPublicKey, readSegments, segmentName } from './files.js';
export { AuditLog, type AuditLogOptions } from './audit-log.js';
export { verifyAuditDir, type AuditDirReport } from './verify-dir.js';
