/**
 * The ledger's integrity anchor outside DuckDB: a small file holding the sequence number and hash of the last
 * ledger-chain entry. A hash chain alone cannot tell a cut tail (a lost or truncated WAL) from a shorter history;
 * the head file, written durably after every ledger commit, says how far the chain must reach.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceFileDurably } from '../../common/private-state.js';

export const HEAD_FILE = 'ledger-head.json';
const HASH = /^[0-9a-f]{64}$/;
/** A head file is a few dozen bytes; anything larger is not ours. */
const MAX_HEAD_BYTES = 4096;

export interface ChainHead {
  /** Sequence number of the last chain entry (0: no entry yet). */
  readonly seq: number;
  /** Its hash (the genesis hash when `seq` is 0). */
  readonly hash: string;
}

export type HeadRead = { ok: true; head: ChainHead } | { ok: false; problem: string };

export function headPath(stateDir: string): string {
  return join(stateDir, HEAD_FILE);
}

/** Reads and validates the head file; every way it can be missing or malformed becomes a stated problem. */
export function readHead(path: string): HeadRead {
  if (!existsSync(path)) return { ok: false, problem: `head file ${path} is missing` };
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_HEAD_BYTES) return { ok: false, problem: `head file ${path} is ${buf.length} bytes, not a head file` };
    text = buf.toString('utf8');
  } catch (e) {
    return { ok: false, problem: `head file ${path} cannot be read: ${(e as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, problem: `head file ${path} is not valid JSON` };
  }
  const o = parsed as { version?: unknown; seq?: unknown; hash?: unknown };
  if (o === null || typeof o !== 'object' || o.version !== 1 || !Number.isSafeInteger(o.seq) || (o.seq as number) < 0 || typeof o.hash !== 'string' || !HASH.test(o.hash)) {
    return { ok: false, problem: `head file ${path} is malformed (expected {"version":1,"seq":N,"hash":"<64 hex>"})` };
  }
  return { ok: true, head: { seq: o.seq as number, hash: o.hash } };
}

/**
 * Replaces the head file durably: write a temporary file, fsync it, rename it over the old one, fsync the folder.
 * A crash leaves either the old head or the new one, never a torn file.
 */
export async function writeHead(path: string, head: ChainHead): Promise<void> {
  await replaceFileDurably(path, `${JSON.stringify({ version: 1, seq: head.seq, hash: head.hash })}\n`);
}
