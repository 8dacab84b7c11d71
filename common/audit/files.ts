/**
 * The audit folder's layout and its reading (shared by the writer, `fedmesh audit verify|show` and the start-up
 * checks): entries in segments `audit-<first index, 12 digits>.jsonl`, signed checkpoints in `checkpoints.jsonl`,
 * the Ed25519 signing key (0600) and its public key. A domain verifies its agent's log with nothing but this folder
 * (and, better, a copy of the public key kept elsewhere).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditSegmentText } from './verify.js';

export const CHECKPOINTS_FILE = 'checkpoints.jsonl';
export const SIGNING_KEY_FILE = 'audit-signing-key.pem';
export const PUBLIC_KEY_FILE = 'audit-public-key.pem';
const SEGMENT = /^audit-(\d{12})\.jsonl$/;
/** A key file is a few hundred bytes. */
const MAX_KEY_BYTES = 8192;

export function segmentName(firstIndex: number): string {
  return `audit-${String(firstIndex).padStart(12, '0')}.jsonl`;
}

/** Segment files in order of their first index. */
export function listSegments(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => SEGMENT.test(f))
    .sort();
}

export function readSegments(dir: string): AuditSegmentText[] {
  return listSegments(dir).map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

export function readCheckpoints(dir: string): string {
  const p = join(dir, CHECKPOINTS_FILE);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

/**
 * Reads an Ed25519 public key (PEM SPKI).
 * @throws RangeError naming the file when it is missing, too large or not an Ed25519 public key
 */
export function readPublicKey(file: string): KeyObject {
  if (!existsSync(file)) throw new RangeError(`public key ${file} does not exist`);
  if (statSync(file).size > MAX_KEY_BYTES) throw new RangeError(`public key ${file} is too large to be a key`);
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch {
    throw new RangeError(`public key ${file} is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RangeError(`public key ${file} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return key;
}

/** A short fingerprint of a public key (SHA-256 of its DER SPKI, first 16 hex digits), to compare by eye. */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}
