/**
 * The append-only audit log writer, shared by the coordinator and the agents (each in its own state folder).
 *
 * - Durability: every entry is written with one `write` and `fdatasync`ed before `append` returns, so an entry
 *   the caller saw appended survives a crash or power loss. Checkpoints are fsynced too. Cost: one fsync per
 *   event (a job makes a handful).
 * - Checkpoints: signed every `checkpointEvery` entries, and `checkpointIntervalMs` after the first entry not yet
 *   covered, and at `close`.
 * - Bounds: one entry is at most MAX_ENTRY_BYTES; a segment rotates at `maxSegmentBytes` into a new file (named by
 *   its first index). Segments are never deleted by fedmesh: archiving old segments is the operator's decision, and
 *   a verifier then reports the archived range as removed unless it is given the archive.
 * - Open: the whole log is verified; a torn last line (a crash mid-write) that no checkpoint covers is cut and the
 *   cut recorded; any other problem refuses to open, naming the first bad entry.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FedmeshError } from '../errors.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE, restrictFiles } from '../private-state.js';
import { checkpointLine } from './checkpoint.js';
import { entryText, signedLine, type AuditEntry, type AuditFields } from './entry.js';
import { CHECKPOINTS_FILE, keyFingerprint, listSegments, PUBLIC_KEY_FILE, readCheckpoints, readSegments, segmentName, SIGNING_KEY_FILE } from './files.js';
import { leafHash, type MerkleFrontier } from './merkle.js';
import { verifyAuditLog, type AuditVerifyReport } from './verify.js';

export interface AuditLogOptions {
  /** The audit folder (created 0700). */
  dir: string;
  /** Recorded in the first entry: `coordinator` or `agent`, and the agent's name. */
  role: string;
  name: string;
  /** @default 64 */
  checkpointEvery?: number;
  /** @default 5000 */
  checkpointIntervalMs?: number;
  /** @default 16 MiB */
  maxSegmentBytes?: number;
  /** Called with every verified entry while the log is opened (the ledger cross-check reads them). */
  onEntry?: (e: AuditEntry) => void;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

function positiveInt(v: number | undefined, name: string, dflt: number, min: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < min) throw new RangeError(`options.${name} must be an integer of at least ${min}`);
  return x;
}

/** Loads the signing key, or makes one when the log is new. A log with entries and no key cannot continue. */
function loadOrCreateKey(dir: string, hasEntries: boolean): KeyObject {
  const priv = join(dir, SIGNING_KEY_FILE);
  const pub = join(dir, PUBLIC_KEY_FILE);
  if (existsSync(priv)) {
    restrictFiles([priv]);
    const key = createPrivateKey(readFileSync(priv));
    if (key.asymmetricKeyType !== 'ed25519') throw new FedmeshError('FAILED_PRECONDITION', `${priv} is not an Ed25519 key`, { field: 'audit' });
    if (!existsSync(pub)) writeFileSync(pub, createPublicKey(key).export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
    return key;
  }
  if (hasEntries) throw new FedmeshError('FAILED_PRECONDITION', `the audit log in ${dir} has entries but its signing key ${priv} is missing: the log cannot be continued (restore the key)`, { field: 'audit' });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return privateKey;
}

export class AuditLog {
  private fd: number;
  private segmentBytes: number;
  private sinceCheckpoint = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly checkpointFd: number;

  private constructor(
    readonly dir: string,
    private readonly key: KeyObject,
    private readonly frontier: MerkleFrontier,
    private next: number,
    private readonly every: number,
    private readonly intervalMs: number,
    private readonly maxSegmentBytes: number,
  ) {
    const segments = listSegments(dir);
    const current = segments[segments.length - 1] ?? segmentName(next);
    this.fd = openSync(join(dir, current), 'a', PRIVATE_FILE_MODE);
    this.segmentBytes = fstatSync(this.fd).size;
    this.checkpointFd = openSync(join(dir, CHECKPOINTS_FILE), 'a', PRIVATE_FILE_MODE);
  }

  /**
   * Opens (or creates) the log in `options.dir`, verifying it in full.
   * @throws FedmeshError FAILED_PRECONDITION naming the first problem when the log does not verify
   */
  static open(options: AuditLogOptions): { audit: AuditLog; report: AuditVerifyReport; created: boolean } {
    const every = positiveInt(options.checkpointEvery, 'checkpointEvery', 64, 1);
    const intervalMs = positiveInt(options.checkpointIntervalMs, 'checkpointIntervalMs', 5000, 10);
    const maxSegmentBytes = positiveInt(options.maxSegmentBytes, 'maxSegmentBytes', 16 * 1024 * 1024, 64 * 1024);
    const dir = options.dir;
    ensurePrivateDir(dir);
    const segments = listSegments(dir);
    const key = loadOrCreateKey(dir, segments.length > 0);
    const publicKey = createPublicKey(key);
    let report = verifyAuditLog({ segments: readSegments(dir), checkpoints: readCheckpoints(dir), checkpointsName: CHECKPOINTS_FILE, key: publicKey, onEntry: options.onEntry });
    let torn = 0;
    const onlyTornTail = report.problems.length === 1 && report.problems[0]!.kind === 'truncated' && report.tornTailBytes > 0;
    if (onlyTornTail && (report.lastCheckpoint?.size ?? 0) <= report.nextIndex) {
      // A crash mid-write leaves part of a line no checkpoint covers: cut it (and say so in the log, below).
      torn = report.tornTailBytes;
      const last = join(dir, segments[segments.length - 1]!);
      const fd = openSync(last, 'r+');
      try {
        ftruncateSync(fd, fstatSync(fd).size - torn);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      report = verifyAuditLog({ segments: readSegments(dir), checkpoints: readCheckpoints(dir), checkpointsName: CHECKPOINTS_FILE, key: publicKey });
    }
    if (!report.ok) {
      const first = report.problems[0]!;
      const more = report.problems.length > 1 ? ` (and ${report.problems.length - 1} more problem${report.problems.length > 2 ? 's' : ''})` : '';
      throw new FedmeshError('FAILED_PRECONDITION', `the audit log in ${dir} does not verify: ${first.message}${more}. Run \`fedmesh audit verify --log ${dir}\`; fedmesh will not write to a log that does not verify`, { field: 'audit' });
    }
    const audit = new AuditLog(dir, key, report.frontier, report.nextIndex, every, intervalMs, maxSegmentBytes);
    const created = report.nextIndex === 0;
    if (created) audit.append('audit.created', { role: options.role, name: options.name, keyFingerprint: keyFingerprint(publicKey) });
    if (torn > 0) {
      audit.append('audit.torn-tail-cut', { bytes: torn });
      options.log?.('audit-torn-tail-cut', { dir, bytes: torn });
    }
    return { audit, report, created };
  }

  /** The index the next entry gets. */
  get size(): number {
    return this.next;
  }

  /**
   * Appends one event, durably (see the module comment). Fields must name things and carry counts, codes and
   * privacy parameters: never a data value, a token or a spec's filters.
   * @returns the entry's index
   * @throws RangeError for a bad type or field (see `entryText`); Error when the log is closed
   */
  append(type: string, fields: AuditFields = {}): number {
    if (this.closed) throw new Error('the audit log is closed');
    const text = entryText(this.next, Date.now(), type, fields);
    const line = `${signedLine(text, this.key)}\n`;
    const bytes = Buffer.from(line);
    if (this.segmentBytes > 0 && this.segmentBytes + bytes.length > this.maxSegmentBytes) this.rotate();
    writeSync(this.fd, bytes);
    fdatasyncSync(this.fd);
    this.segmentBytes += bytes.length;
    this.frontier.push(leafHash(Buffer.from(text)));
    const i = this.next++;
    this.sinceCheckpoint++;
    if (this.sinceCheckpoint >= this.every) this.checkpoint();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!this.closed && this.sinceCheckpoint > 0) this.checkpoint();
      }, this.intervalMs);
      this.timer.unref();
    }
    return i;
  }

  /** Signs and durably appends a checkpoint of the whole log now (no-op when nothing new). */
  checkpoint(): void {
    if (this.closed || this.sinceCheckpoint === 0) return;
    const line = `${checkpointLine({ size: this.frontier.size, root: this.frontier.root().toString('hex'), atMs: Date.now() }, this.key)}\n`;
    writeSync(this.checkpointFd, line);
    fdatasyncSync(this.checkpointFd);
    this.sinceCheckpoint = 0;
  }

  private rotate(): void {
    // The old segment ends covered by a checkpoint, so a lost later segment is a visible truncation.
    this.checkpoint();
    closeSync(this.fd);
    this.fd = openSync(join(this.dir, segmentName(this.next)), 'a', PRIVATE_FILE_MODE);
    this.segmentBytes = 0;
  }

  /** Checkpoints and closes; later appends throw. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.checkpoint();
    clearTimeout(this.timer);
    this.closed = true;
    closeSync(this.fd);
    closeSync(this.checkpointFd);
  }
}
