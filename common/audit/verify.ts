/**
 * Verifies an audit log from its text: every entry's form and signature, the order of the entry indices, and every
 * signed checkpoint against the Merkle root of the entries it covers. Names the first entry that was altered,
 * removed, inserted or moved, and a cut file. Pure (the caller reads the files), never throws on bad input.
 */
import type { KeyObject } from 'node:crypto';
import { parseCheckpointLine, type Checkpoint } from './checkpoint.js';
import { parseLine, verifyEntrySignature, type AuditEntry } from './entry.js';
import { MerkleFrontier, leafHash } from './merkle.js';

export type AuditProblemKind = 'altered' | 'removed' | 'inserted' | 'reordered' | 'truncated' | 'checkpoint';

export interface AuditProblem {
  kind: AuditProblemKind;
  /** The entry index concerned (for `removed`, the first missing one). */
  entry?: number;
  /** File and line, e.g. `audit-000000000000.jsonl:17`. */
  where: string;
  message: string;
}

export interface AuditSegmentText {
  name: string;
  text: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Entry lines read (well-formed or not). */
  lines: number;
  /** The next index a writer would use (one past the highest in-order index). */
  nextIndex: number;
  checkpoints: number;
  lastCheckpoint: Checkpoint | undefined;
  /** Entries after the last checkpoint: only their signatures protect them, a cut there shows at the next checkpoint. */
  uncheckpointed: number;
  /** Problems in file order, entries before checkpoints; `problems[0]` is the first. */
  problems: AuditProblem[];
  /** The tree over every line read, so a writer can continue it. */
  frontier: MerkleFrontier;
  /** Bytes of an incomplete last line (a torn write), 0 if the log ends with a newline. */
  tornTailBytes: number;
}

export interface VerifyInput {
  segments: readonly AuditSegmentText[];
  checkpoints: string;
  checkpointsName?: string;
  key: KeyObject | undefined;
  /** Called for every entry whose signature verifies, in file order (for `show` and the ledger cross-check). */
  onEntry?: (e: AuditEntry) => void;
}

interface Line {
  where: string;
  text: string;
  complete: boolean;
}

function splitLines(segments: readonly AuditSegmentText[]): Line[] {
  const out: Line[] = [];
  for (const s of segments) {
    if (s.text.length === 0) continue;
    const parts = s.text.split('\n');
    const tail = parts.pop()!;
    parts.forEach((text, k) => out.push({ where: `${s.name}:${k + 1}`, text, complete: true }));
    if (tail.length > 0) out.push({ where: `${s.name}:${parts.length + 1}`, text: tail, complete: false });
  }
  return out;
}

const range = (a: number, b: number): string => (a === b ? `entry ${a}` : `entries ${a}–${b}`);

export function verifyAuditLog(input: VerifyInput): AuditVerifyReport {
  const lines = splitLines(input.segments);
  const problems: AuditProblem[] = [];
  // Parsed without the key first: entries a valid signed checkpoint covers are authentic through its Merkle root,
  // so only the others need their own signature checked (one Ed25519 verification each is the slow part).
  const parsed = lines.map((l) => (l.complete ? parseLine(l.text, undefined) : undefined));
  const cp = readCheckpoints(input, lines, parsed);
  parsed.forEach((p, pos) => {
    if (p?.ok) p.sigOk = pos < cp.trustedSize || (input.key !== undefined && verifyEntrySignature(p.text, p.sig, input.key));
  });
  // Where each validly signed index sits, to tell a moved entry from a removed one and a copy from an edit.
  const positions = new Map<number, number[]>();
  parsed.forEach((p, pos) => {
    if (p?.ok && p.sigOk) positions.set(p.entry.i, [...(positions.get(p.entry.i) ?? []), pos]);
  });
  const frontier = new MerkleFrontier();
  const seen = new Set<number>();
  let expected = 0;
  let tornTailBytes = 0;
  for (const [pos, line] of lines.entries()) {
    const p = parsed[pos];
    if (!line.complete || p === undefined) {
      tornTailBytes = pos === lines.length - 1 ? Buffer.byteLength(line.text) : 0;
      problems.push({ kind: 'truncated', entry: expected, where: line.where, message: `the log was cut: ${line.where} is an incomplete line (${Buffer.byteLength(line.text)} bytes without a newline)` });
      continue;
    }
    frontier.push(leafHash(Buffer.from(p.ok ? p.text : line.text)));
    if (!p.ok || !p.sigOk) {
      const claimed = p.ok ? p.entry.i : p.claimedIndex;
      const why = p.ok ? 'its signature does not verify with this log\'s key' : `it ${p.problem}`;
      const copyOfValid = claimed !== undefined && (positions.get(claimed)?.length ?? 0) > 0;
      if (copyOfValid) problems.push({ kind: 'inserted', entry: claimed, where: line.where, message: `an entry was inserted at ${line.where}: it claims index ${claimed}, which a valid entry has, and ${why}` });
      else problems.push({ kind: 'altered', entry: claimed ?? expected, where: line.where, message: `entry ${claimed ?? expected} (${line.where}) was altered: ${why}` });
      if (claimed === expected) expected++;
      continue;
    }
    const i = p.entry.i;
    // A copy of an entry already read is reported, not handed on twice.
    if (!seen.has(i)) input.onEntry?.(p.entry);
    if (i === expected) {
      seen.add(i);
      expected++;
    } else if (seen.has(i)) {
      problems.push({ kind: 'inserted', entry: i, where: line.where, message: `an entry was inserted at ${line.where}: it repeats entry ${i}` });
    } else if (i < expected) {
      seen.add(i);
      problems.push({ kind: 'reordered', entry: i, where: line.where, message: `entry ${i} was moved: it comes after entry ${expected - 1} (${line.where})` });
    } else {
      const later = (positions.get(expected) ?? []).find((q) => q > pos);
      if (later !== undefined) {
        problems.push({ kind: 'reordered', entry: expected, where: line.where, message: `entries were reordered: entry ${i} (${line.where}) comes before entry ${expected} (${lines[later]!.where})` });
      } else {
        problems.push({ kind: 'removed', entry: expected, where: line.where, message: `${range(expected, i - 1)} ${i - 1 === expected ? 'was' : 'were'} removed: entry ${i} (${line.where}) follows entry ${expected - 1}` });
      }
      seen.add(i);
      expected = i + 1;
    }
  }

  problems.push(...cp.problems);
  const order: Record<AuditProblemKind, number> = { altered: 0, removed: 0, inserted: 0, reordered: 0, truncated: 1, checkpoint: 2 };
  problems.sort((a, b) => order[a.kind] - order[b.kind]);
  return {
    ok: problems.length === 0,
    lines: lines.length,
    nextIndex: expected,
    checkpoints: cp.count,
    lastCheckpoint: cp.last,
    uncheckpointed: Math.max(0, cp.complete - (cp.last?.size ?? 0)),
    problems,
    frontier,
    tornTailBytes,
  };
}

/**
 * Checks the checkpoints against the lines as read: each must be signed, sizes must not shrink, each root must be
 * the tree of the first `size` lines, and none may cover more lines than there are (truncation).
 * @returns the problems, and `trustedSize`: the largest size of a signed checkpoint whose root matches
 */
function readCheckpoints(input: VerifyInput, lines: readonly Line[], parsed: readonly (ReturnType<typeof parseLine> | undefined)[]): { problems: AuditProblem[]; count: number; last: Checkpoint | undefined; complete: number; trustedSize: number } {
  const problems: AuditProblem[] = [];
  const cpName = input.checkpointsName ?? 'checkpoints';
  const cpLines = input.checkpoints.split('\n');
  const cpTail = cpLines.pop()!;
  let count = 0;
  let last: Checkpoint | undefined;
  const roots = new Map<number, string>();
  const want: { size: number; root: string; atMs: number; where: string }[] = [];
  for (const [k, text] of cpLines.entries()) {
    const where = `${cpName}:${k + 1}`;
    const c = parseCheckpointLine(text, input.key);
    if (!c.ok || !c.sigOk) {
      problems.push({ kind: 'checkpoint', where, message: `checkpoint ${where} ${c.ok ? 'has a signature that does not verify with this log\'s key' : c.problem}: altered or forged` });
      continue;
    }
    if (last && c.checkpoint.size < last.size) problems.push({ kind: 'checkpoint', where, message: `checkpoint ${where} covers ${c.checkpoint.size} entries, fewer than the one before it (${last.size}): checkpoints were reordered` });
    count++;
    last = c.checkpoint;
    want.push({ ...c.checkpoint, where });
  }
  if (cpTail.length > 0) problems.push({ kind: 'truncated', where: `${cpName}:${cpLines.length + 1}`, message: `the checkpoint file was cut: its last line is incomplete` });
  // Roots at each checkpointed size, recomputed over the lines as read.
  const sizes = new Set(want.map((w) => w.size));
  const replay = new MerkleFrontier();
  if (sizes.has(0)) roots.set(0, replay.root().toString('hex'));
  for (const [pos, line] of lines.entries()) {
    const p = parsed[pos];
    if (!line.complete || p === undefined) break;
    replay.push(leafHash(Buffer.from(p.ok ? p.text : line.text)));
    if (sizes.has(replay.size)) roots.set(replay.size, replay.root().toString('hex'));
  }
  const complete = replay.size;
  // The largest checkpoint past the end says how much was cut.
  const beyond = want.filter((w) => w.size > complete).sort((a, b) => b.size - a.size)[0];
  if (beyond) {
    const at = new Date(beyond.atMs).toISOString();
    problems.push({ kind: 'truncated', entry: complete, where: beyond.where, message: `the log was truncated: checkpoint ${beyond.where} (signed ${at}) covers ${beyond.size} entries but only ${complete} are left: ${range(complete, beyond.size - 1)} missing` });
  }
  for (const w of want) {
    const at = new Date(w.atMs).toISOString();
    if (w.size > complete) continue;
    else if (roots.get(w.size) !== w.root) {
      problems.push({ kind: 'checkpoint', entry: w.size - 1, where: w.where, message: `checkpoint ${w.where} (signed ${at}, ${w.size} entries) does not match the log: an entry before ${w.size} was altered, removed, inserted or moved` });
    }
  }
  let trustedSize = 0;
  for (const w of want) if (w.size <= complete && roots.get(w.size) === w.root) trustedSize = Math.max(trustedSize, w.size);
  return { problems, count, last, complete, trustedSize };
}
