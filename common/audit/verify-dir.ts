import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AuditEntry } from './entry.js';
import { CHECKPOINTS_FILE, keyFingerprint, PUBLIC_KEY_FILE, readCheckpoints, readPublicKey, readSegments } from './files.js';
import { verifyAuditLog, type AuditVerifyReport } from './verify.js';

/** A kept checkpoint file is a few lines. */
const MAX_CHECKPOINT_FILE_BYTES = 1024 * 1024;

export interface AuditDirReport extends AuditVerifyReport {
  /** Where the public key came from: the folder itself proves only self-consistency. */
  keySource: 'argument' | 'log folder';
  keyFingerprint: string;
}

/**
 * Reads and verifies an audit folder, with the public key given (a copy kept apart from the log: a forger who can
 * rewrite the folder could replace the key in it) or else the folder's own.
 * @throws RangeError when the folder or the key cannot be read
 */
export function verifyAuditDir(dir: string, publicKeyFile?: string, onEntry?: (e: AuditEntry) => void, checkpointFile?: string): AuditDirReport {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RangeError(`--log: ${dir} is not a folder`);
  const key: KeyObject = readPublicKey(publicKeyFile ?? join(dir, PUBLIC_KEY_FILE));
  const segments = readSegments(dir);
  const report = verifyAuditLog({ segments, checkpoints: readCheckpoints(dir), checkpointsName: CHECKPOINTS_FILE, key, ...(onEntry ? { onEntry } : {}) });
  if (checkpointFile !== undefined) {
    // Checkpoints kept apart (the DPO's copy of an earlier `verify`): the log must still hold what they signed, so
    // a log rolled back or cut together with its own checkpoint file is caught.
    if (!existsSync(checkpointFile) || statSync(checkpointFile).size > MAX_CHECKPOINT_FILE_BYTES) throw new RangeError(`--checkpoint: ${checkpointFile} is missing or too large`);
    const kept = verifyAuditLog({ segments, checkpoints: readFileSync(checkpointFile, 'utf8'), checkpointsName: checkpointFile, key });
    const extra = kept.problems.filter((p) => p.kind === 'truncated' || p.kind === 'checkpoint');
    if (kept.checkpoints === 0 && extra.length === 0) extra.push({ kind: 'checkpoint', where: checkpointFile, message: `${checkpointFile} holds no checkpoint signed by this log's key` });
    report.problems.push(...extra);
    report.ok = report.problems.length === 0;
  }
  return { ...report, keySource: publicKeyFile ? 'argument' : 'log folder', keyFingerprint: keyFingerprint(key) };
}
