import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSegments, verifyAuditDir, type AuditEntry } from '../../common/audit/index.js';
import { AgentAudit } from './agent-audit.js';

let state: string;
beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), 'fedmesh-agent-audit-'));
});
afterEach(() => rmSync(state, { recursive: true, force: true }));

const entries = (): AuditEntry[] => {
  const out: AuditEntry[] = [];
  expect(verifyAuditDir(join(state, 'audit'), undefined, (e) => out.push(e)).problems).toEqual([]);
  return out;
};

describe("agent audit: the domain's own trail", () => {
  it('a refusal keeps its code and field, never its message (which may quote the spec); a charge keeps its cost', () => {
    const a = AgentAudit.open(state, 'hospital-a', undefined);
    const log = a.tapLog(undefined);
    log('task-failed', { jobId: 'j1', taskId: 't1', researcher: 'alice', kind: 'aggregate', round: 0, code: 'INVALID_JOB', field: 'where[0]', message: "column 'diagnosis_text' value 'HIV' is not allowed" });
    a.charged({ jobId: 'j2', researcher: 'alice', rho: 0.02, epsilon: null, delta: 1e-7 });
    log('ingested', { file: 'person.csv' });
    a.close();
    const got = entries();
    expect(got.map((e) => e.type)).toEqual(['audit.created', 'audit.opened', 'task.refused', 'ledger.charge']);
    expect(got[2]).not.toHaveProperty('message');
    expect(got[2]).toMatchObject({ code: 'INVALID_JOB', field: 'where[0]' });
    expect(got[3]).toMatchObject({ jobId: 'j2', rho: 0.02, epsilon: null, delta: 1e-7 });
    expect(readFileSync(join(state, 'audit', listSegments(join(state, 'audit'))[0]!), 'utf8')).not.toContain('HIV');
  });

  it('an agent whose audit log was tampered with does not start, naming the entry', () => {
    const a = AgentAudit.open(state, 'hospital-a', undefined);
    a.append('task.received', { jobId: 'j1' });
    a.append('task.answered', { jobId: 'j1' });
    a.close();
    const seg = join(state, 'audit', listSegments(join(state, 'audit'))[0]!);
    writeFileSync(seg, readFileSync(seg, 'utf8').replace('"jobId":"j1"', '"jobId":"j9"'));
    expect(() => AgentAudit.open(state, 'hospital-a', undefined)).toThrow(/does not verify: entry 2 .* was altered/);
  });
});
