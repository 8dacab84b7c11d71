import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from './audit-log.js';
import { CHECKPOINTS_FILE, listSegments, PUBLIC_KEY_FILE, SIGNING_KEY_FILE } from './files.js';
import { verifyAuditDir } from './verify-dir.js';
import { generateKeyPairSync } from 'node:crypto';
import { signedLine, entryText } from './entry.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedmesh-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A log of `n` events after the creation entry (indices 1..n), checkpointed every 4, closed. */
function writeLog(n: number, every = 4): string {
  const log = join(dir, 'audit');
  const { audit } = AuditLog.open({ dir: log, role: 'coordinator', name: 'test', checkpointEvery: every });
  for (let k = 1; k <= n; k++) audit.append('job.admitted', { jobId: `job-${k}`, researcher: 'alice', kind: 'aggregate', epsilon: 0.5 });
  audit.close();
  return log;
}

const segmentPath = (log: string): string => join(log, listSegments(log)[0]!);
const lines = (log: string): string[] => readFileSync(segmentPath(log), 'utf8').split('\n').slice(0, -1);
const rewrite = (log: string, ls: string[]): void => writeFileSync(segmentPath(log), ls.map((l) => `${l}\n`).join(''));

describe('audit log: tamper evidence', () => {
  it('negative control: an untouched log verifies, with keys 0600 and checkpoints signed', () => {
    const log = writeLog(10);
    const r = verifyAuditDir(log);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.nextIndex).toBe(11);
    expect(r.lastCheckpoint?.size).toBe(11);
    expect(r.checkpoints).toBeGreaterThanOrEqual(3);
    expect(statSync(join(log, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(segmentPath(log)).mode & 0o077).toBe(0);
  });

  it('an edited entry is named (and the checkpoint covering it fails too)', () => {
    const log = writeLog(10);
    const ls = lines(log);
    ls[6] = ls[6]!.replace('"epsilon":0.5', '"epsilon":0.1');
    rewrite(log, ls);
    const r = verifyAuditDir(log);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ kind: 'altered', entry: 6 });
    expect(r.problems.some((p) => p.kind === 'checkpoint')).toBe(true);
  });

  it('a whitespace-only edit (same JSON meaning) is still an alteration', () => {
    const log = writeLog(5);
    const ls = lines(log);
    ls[3] = ls[3]!.replace('"type":', '"type": ');
    rewrite(log, ls);
    expect(verifyAuditDir(log).problems[0]).toMatchObject({ kind: 'altered', entry: 3 });
  });

  it('a deleted entry is named', () => {
    const log = writeLog(10);
    const ls = lines(log);
    ls.splice(4, 1);
    rewrite(log, ls);
    const r = verifyAuditDir(log);
    expect(r.problems[0]).toMatchObject({ kind: 'removed', entry: 4 });
    expect(r.problems[0]!.message).toContain('entry 4 was removed');
  });

  it('an inserted copy of a valid entry is named', () => {
    const log = writeLog(10);
    const ls = lines(log);
    ls.splice(7, 0, ls[2]!);
    rewrite(log, ls);
    const seen: number[] = [];
    expect(verifyAuditDir(log, undefined, (e) => seen.push(e.i)).problems[0]).toMatchObject({ kind: 'inserted', entry: 2 });
    // `show` and the ledger cross-check get each entry once, the copy not again.
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('an inserted forged entry (signed with another key) is named', () => {
    const log = writeLog(10);
    const ls = lines(log);
    const other = generateKeyPairSync('ed25519').privateKey;
    ls.splice(5, 0, signedLine(entryText(5, Date.now(), 'budget.set', { researcher: 'mallory', epsilon: 100 }), other));
    rewrite(log, ls);
    const r = verifyAuditDir(log);
    expect(r.problems[0]).toMatchObject({ kind: 'inserted', entry: 5 });
  });

  it('two swapped entries are named as reordered', () => {
    const log = writeLog(10);
    const ls = lines(log);
    [ls[5], ls[6]] = [ls[6]!, ls[5]!];
    rewrite(log, ls);
    const r = verifyAuditDir(log);
    expect(r.problems[0]).toMatchObject({ kind: 'reordered', entry: 5 });
    expect(r.problems[0]!.message).toMatch(/entry 6 .* comes before entry 5/);
  });

  it('a file cut at a line boundary is truncation, named against the last checkpoint', () => {
    const log = writeLog(10);
    rewrite(log, lines(log).slice(0, 7));
    const r = verifyAuditDir(log);
    expect(r.problems[0]).toMatchObject({ kind: 'truncated', entry: 7 });
    expect(r.problems[0]!.message).toContain('entries 7–10 missing');
  });

  it('a file cut mid-line is truncation', () => {
    const log = writeLog(10);
    const text = readFileSync(segmentPath(log), 'utf8');
    writeFileSync(segmentPath(log), text.slice(0, text.length - 40));
    const r = verifyAuditDir(log);
    expect(r.problems[0]).toMatchObject({ kind: 'truncated' });
    expect(r.problems[0]!.message).toContain('incomplete line');
  });

  it('a forged or edited checkpoint is reported', () => {
    const log = writeLog(10);
    const cp = join(log, CHECKPOINTS_FILE);
    const cps = readFileSync(cp, 'utf8').split('\n');
    cps[0] = cps[0]!.replace(/"atMs":\d+/, '"atMs":1');
    writeFileSync(cp, cps.join('\n'));
    expect(verifyAuditDir(log).problems[0]).toMatchObject({ kind: 'checkpoint' });
  });

  it('a log re-signed with a substituted key verifies only against its own folder key, not the kept public key', () => {
    const log = writeLog(3);
    const kept = join(dir, 'kept.pem');
    writeFileSync(kept, readFileSync(join(log, PUBLIC_KEY_FILE)));
    expect(verifyAuditDir(log, kept).ok).toBe(true);
    // A forger rewrites the whole folder with a new key of their own.
    rmSync(log, { recursive: true });
    writeLog(3);
    expect(verifyAuditDir(log).ok).toBe(true);
    const r = verifyAuditDir(log, kept);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ kind: 'altered', entry: 0 });
  });
});

describe('audit log: checkpoints kept apart', () => {
  it('a log rolled back together with its own checkpoint file verifies alone, and fails against a checkpoint kept apart', () => {
    const log = writeLog(10);
    const cpFile = join(log, CHECKPOINTS_FILE);
    const cps = readFileSync(cpFile, 'utf8').split('\n').filter(Boolean);
    const kept = join(dir, 'kept-checkpoint.jsonl');
    writeFileSync(kept, `${cps[cps.length - 1]}\n`);
    expect(verifyAuditDir(log, undefined, undefined, kept).ok).toBe(true);
    // Roll back to the first checkpoint (4 entries): entries and checkpoints cut consistently.
    rewrite(log, lines(log).slice(0, 4));
    writeFileSync(cpFile, `${cps[0]}\n`);
    expect(verifyAuditDir(log).ok).toBe(true);
    const r = verifyAuditDir(log, undefined, undefined, kept);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ kind: 'truncated', entry: 4 });
    expect(r.problems[0]!.message).toContain('entries 4–10 missing');
  });
});

describe('audit log: writer', () => {
  it('reopens and continues the same tree; a torn last line is cut and recorded', () => {
    const log = writeLog(3);
    appendFileSync(segmentPath(log), '{"i":4,"atMs":1,"ty');
    const { audit } = AuditLog.open({ dir: log, role: 'coordinator', name: 'test' });
    expect(audit.size).toBe(5);
    audit.append('job.released', { jobId: 'job-3' });
    audit.close();
    const types: string[] = [];
    const r = verifyAuditDir(log, undefined, (e) => types.push(e.type));
    expect(r.ok).toBe(true);
    expect(types.slice(-2)).toEqual(['audit.torn-tail-cut', 'job.released']);
  });

  it('refuses to open a log that does not verify, naming the entry', () => {
    const log = writeLog(6);
    const ls = lines(log);
    ls.splice(2, 1);
    rewrite(log, ls);
    expect(() => AuditLog.open({ dir: log, role: 'coordinator', name: 'test' })).toThrow(/entry 2 was removed/);
  });

  it('rotates segments at the size bound and verifies across them', () => {
    const log = join(dir, 'audit');
    const { audit } = AuditLog.open({ dir: log, role: 'agent', name: 'a', maxSegmentBytes: 64 * 1024 });
    for (let k = 0; k < 300; k++) audit.append('task.received', { jobId: `job-${k}`, note: 'x'.repeat(200) });
    audit.close();
    expect(listSegments(log).length).toBeGreaterThan(1);
    for (const s of listSegments(log)) expect(statSync(join(log, s)).size).toBeLessThanOrEqual(64 * 1024);
    expect(verifyAuditDir(log).ok).toBe(true);
    // Removing a whole earlier segment is named as removed entries.
    rmSync(join(log, listSegments(log)[0]!));
    expect(verifyAuditDir(log).problems[0]).toMatchObject({ kind: 'removed' });
  });

  it('bounds each entry and refuses reserved fields and bad types', () => {
    const { audit } = AuditLog.open({ dir: join(dir, 'audit'), role: 'agent', name: 'a' });
    expect(() => audit.append('Job Admitted', {})).toThrow(/dotted lower-case/);
    expect(() => audit.append('job.x', { sig: 'x' })).toThrow(/reserved/);
    expect(() => audit.append('job.x', { list: Array.from({ length: 300 }, () => 'a') })).toThrow(/more than 256/);
    audit.append('job.x', { long: 'y'.repeat(1000) });
    audit.close();
    const got: unknown[] = [];
    verifyAuditDir(join(dir, 'audit'), undefined, (e) => got.push(e.long));
    expect(String(got[1]).length).toBe(301);
  });
});
