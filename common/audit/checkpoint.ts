/**
 * A signed checkpoint: the Merkle tree's size and root at a time, signed with the log's Ed25519 key. A checkpoint
 * copied out of the folder (to the DPO, a witness, a ticket) later proves what the log held: no entry it covers can
 * change, disappear or move without its root changing.
 */
import { sign, verify, type KeyObject } from 'node:crypto';

export interface Checkpoint {
  readonly size: number;
  /** Hex SHA-256 Merkle root of the first `size` entries. */
  readonly root: string;
  readonly atMs: number;
}

const DOMAIN = 'fedmesh-audit-checkpoint-v1';
const HEX64 = /^[0-9a-f]{64}$/;

function message(c: Checkpoint): Buffer {
  return Buffer.from(`${DOMAIN}\n${c.size}\n${c.root}\n${c.atMs}\n`);
}

export function checkpointLine(c: Checkpoint, key: KeyObject): string {
  const sig = sign(null, message(c), key).toString('base64');
  return JSON.stringify({ size: c.size, root: c.root, atMs: c.atMs, sig });
}

export type ParsedCheckpoint = { ok: true; checkpoint: Checkpoint; sigOk: boolean } | { ok: false; problem: string };

export function parseCheckpointLine(line: string, key: KeyObject | undefined): ParsedCheckpoint {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
  if (o === null || typeof o !== 'object' || !Number.isSafeInteger(o.size) || (o.size as number) < 0 || typeof o.root !== 'string' || !HEX64.test(o.root)
    || !Number.isSafeInteger(o.atMs) || typeof o.sig !== 'string') {
    return { ok: false, problem: 'malformed (expected {"size","root","atMs","sig"})' };
  }
  const checkpoint: Checkpoint = { size: o.size as number, root: o.root, atMs: o.atMs as number };
  if (line !== JSON.stringify({ ...checkpoint, sig: o.sig })) return { ok: false, problem: 'is not in canonical form (bytes changed)' };
  let sigOk = false;
  if (key) {
    try {
      sigOk = verify(null, message(checkpoint), key, Buffer.from(o.sig, 'base64'));
    } catch {
      sigOk = false;
    }
  }
  return { ok: true, checkpoint, sigOk };
}
