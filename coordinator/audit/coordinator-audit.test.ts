import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditDir, type AuditEntry } from '../../common/audit/index.js';
import { CoordinatorAudit } from './coordinator-audit.js';
import { jobEventEntry } from './audit-events.js';
import type { JobRecord } from '../job-record.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedmesh-caudit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entries = (): AuditEntry[] => {
  const out: AuditEntry[] = [];
  verifyAuditDir(join(dir, 'audit'), undefined, (e) => out.push(e));
  return out;
};

describe('coordinator audit: what log lines become entries', () => {
  it('keeps only whitelisted fields (a message or spec value a log line carries does not reach the audit)', () => {
    const a = CoordinatorAudit.open(dir, () => undefined);
    const log = a.tapLog(undefined);
    log('job-rejected', { researcher: 'alice', kind: 'aggregate', privacyMode: 'none', code: 'INVALID_JOB', field: 'where[0].value', message: 'value 1234567 is not allowed', where: [{ value: 1234567 }] });
    log('ingested', { file: 'x.csv' });
    a.close();
    const refused = entries().filter((e) => e.type === 'job.refused');
    expect(refused).toHaveLength(1);
    const { i: _i, atMs: _t, ...rest } = refused[0]!;
    expect(rest).toEqual({ type: 'job.refused', researcher: 'alice', kind: 'aggregate', privacyMode: 'none', code: 'INVALID_JOB', field: 'where[0].value' });
    expect(entries().map((e) => e.type)).toEqual(['audit.created', 'job.refused']);
  });

  it('failed authentications: at most 60 entries a minute, the rest counted in one entry', () => {
    const a = CoordinatorAudit.open(dir, () => undefined);
    const log = a.tapLog(undefined);
    for (let k = 0; k < 500; k++) log('tls-handshake-refused', { remote: '10.0.0.9', reason: 'ERR_SSL_NO_CERT' });
    a.close();
    const got = entries();
    expect(got.filter((e) => e.type === 'auth.failed')).toHaveLength(60);
    expect(got.find((e) => e.type === 'auth.failed-suppressed')).toMatchObject({ count: 440 });
  });

  it('a write that fails (log closed, bad field) is reported on the operations log, never thrown at the caller', () => {
    const ops: string[] = [];
    const a = CoordinatorAudit.open(dir, (e) => ops.push(e));
    a.append('Not A Type');
    a.close();
    a.append('job.late');
    expect(ops).toEqual(['audit-write-failed', 'audit-write-failed']);
  });

  it('fails closed: after a failed write, admission is refused until a write succeeds; a bad event from a caller does not block', () => {
    const a = CoordinatorAudit.open(dir, () => undefined);
    a.append('Not A Type');
    expect(() => a.admissionGuard()).not.toThrow();
    a.log.close();
    a.append('job.refused', { code: 'X' });
    expect(() => a.admissionGuard()).toThrow(/cannot write its audit log/);
  });

  it('recovers: once a write succeeds again, admissions resume and the recovery is recorded', () => {
    const a = CoordinatorAudit.open(dir, () => undefined);
    const real = a.log.append.bind(a.log);
    a.log.append = () => {
      throw new Error('ENOSPC: no space left on device');
    };
    a.append('job.refused', { code: 'X' });
    expect(() => a.admissionGuard()).toThrow(/cannot write its audit log/);
    a.log.append = real;
    expect(() => a.admissionGuard()).not.toThrow();
    a.close();
    expect(entries().map((e) => e.type)).toEqual(['audit.created', 'audit.write-recovered']);
  });
});

describe('an agent refusal in the audit: its code only, and only a real one', () => {
  const job = { id: 'j1', kind: 'aggregate', researcher: 'r', spec: { kind: 'aggregate' }, state: 'running', createdAtMs: 0, finishedAtMs: undefined, agentsAsked: ['a1'], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined } as unknown as JobRecord;
  const code = (message: string): unknown => jobEventEntry({ jobId: 'j1', type: 'agent-failed', agent: 'a1', message, atMs: 0 }, job)?.fields.code;
  it('a built-in job\'s "CODE: …" and a seam job\'s "round N: CODE: …"', () => {
    expect(code('BUDGET_EXHAUSTED: over the cap')).toBe('BUDGET_EXHAUSTED');
    expect(code('round 3: POLICY_DENIED: not allowed')).toBe('POLICY_DENIED');
  });
  it('text an agent made up to look like a code is UNKNOWN (red team 43: the signed log took ~40 characters of the agent\'s choosing)', () => {
    expect(code('round 1: PATIENT_SMITH_IS_HIV_POSITIVE: x')).toBe('UNKNOWN');
    expect(code('no code here')).toBe('UNKNOWN');
  });
});
