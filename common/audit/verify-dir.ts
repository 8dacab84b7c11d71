import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AuditEntry } from './entry.js';
import { CHECKPOINTS_FILE, keyFingerprint, PUBLIC_KEY_FILE, readCheckpoints, readPublicKey, readSegments } from './files.js';
import { verifyAuditLog, type AuditVerifyReport } from './verify.js';

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
export function verifyAuditDir(dir: string, publicKeyFile?: string, onEntry?: (e: AuditEntry) => void): AuditDirReport {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RangeError(`--log: ${dir} is not a folder`);
  const key: KeyObject = readPublicKey(publicKeyFile ?? join(dir, PUBLIC_KEY_FILE));
  const report = verifyAuditLog({ segments: readSegments(dir), checkpoints: readCheckpoints(dir), checkpointsName: CHECKPOINTS_FILE, key, ...(onEntry ? { onEntry } : {}) });
  return { ...report, keySource: publicKeyFile ? 'argument' : 'log folder', keyFingerprint: keyFingerprint(key) };
}
