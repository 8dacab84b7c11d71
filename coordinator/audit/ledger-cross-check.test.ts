/**
 * The audit trail against the privacy ledger at start: a ledger that lost a charge the audit log recorded — made
 * consistent in itself, so the ledger's own integrity check passes — is refused, naming the job, until an
 * administrator accepts the loss; the acceptance is itself audited.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditDir, type AuditEntry } from '../../common/audit/index.js';
import { parseJobSpec } from '../../common/job/index.js';
import { Coordinator } from '../coordinator.js';
import type { JobRecord } from '../job-record.js';
import { checkCoordinatorState } from '../state/check-state.js';
import { deleteLastCharge } from '../../test/helpers/ledger-tamper.js';

const SPEC = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.5 } });
const job = (id: string): JobRecord => ({ id, kind: 'aggregate', researcher: 'alice', spec: SPEC, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined });
const PERSON = [{ population: 'person', products: ['person'] }];
const COST = { rho: 0.125, epsilon: 0.5, delta: 0 };

let dir: string;
let state: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmesh-audit-ledger-'));
  state = join(dir, 'state');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

async function charge(c: Coordinator, id: string): Promise<void> {
  await c.ledger.admit(job(id), PERSON, COST);
  await c.ledger.commit(id);
}

function auditTypes(): string[] {
  const types: string[] = [];
  const r = verifyAuditDir(join(state, 'audit'), undefined, (e: AuditEntry) => types.push(e.type));
  expect(r.problems).toEqual([]);
  return types;
}

describe('audit log × privacy ledger at start', () => {
  it('negative control: an intact state restarts, and the audit records each charge with its ledger position', async () => {
    const c = await Coordinator.create({ stateDir: state });
    await c.setBudget('admin', true, 'alice', { population: 'person' }, { epsilon: 5, delta: 1e-6 });
    await charge(c, 'job-1');
    await c.close();
    const again = await Coordinator.create({ stateDir: state });
    await again.close();
    const entries: AuditEntry[] = [];
    verifyAuditDir(join(state, 'audit'), undefined, (e) => entries.push(e));
    const reserve = entries.find((e) => e.type === 'ledger.reserve')!;
    expect(reserve).toMatchObject({ jobId: 'job-1', researcher: 'alice', rho: 0.125, ledgerSeq: 2 });
    expect(entries.filter((e) => e.type === 'audit.opened')).toHaveLength(2);
  });

  it('a charge deleted from the ledger (chain and head made consistent) is detected, named, and refused until accepted', async () => {
    const c = await Coordinator.create({ stateDir: state });
    await charge(c, 'job-1');
    await charge(c, 'job-2');
    await c.close();
    await deleteLastCharge(state, 'job-2');
    // The ledger alone cannot tell: its own check passes; `--check-state` flags it from the audit log.
    const check = await checkCoordinatorState(state);
    expect(check.report!.problems).toEqual([]);
    expect(check.ok).toBe(false);
    expect(check.problems[0]).toMatch(/^audit × ledger: the charge of job job-2 .* is missing from the ledger/);
    await expect(Coordinator.create({ stateDir: state })).rejects.toThrow(/the charge of job job-2 \(researcher alice\) \(audit entry \d+, ledger entry 3\) is missing from the ledger/);
    // Refused again on a second try: the refusal changed nothing.
    await expect(Coordinator.create({ stateDir: state })).rejects.toThrow(/--accept-ledger-loss/);
    const events: string[] = [];
    const accepted = await Coordinator.create({ stateDir: state, acceptLedgerLoss: true, log: (e) => events.push(e) });
    const [entry] = await accepted.ledger.report('alice', 'person');
    expect(entry!.jobs).toBe(1);
    await accepted.close();
    expect(events).toContain('ledger-loss-accepted');
    const types = auditTypes();
    expect(types.filter((t) => t === 'ledger.loss-detected')).toHaveLength(2);
    expect(types).toContain('admin.ledger-loss-accepted');
    // Decided once: the next start needs no flag.
    const later = await Coordinator.create({ stateDir: state });
    await later.close();
  });

  it('a state folder restored from an older copy (database and head file) is refused, naming the lost charge and budget', async () => {
    const c = await Coordinator.create({ stateDir: state });
    await charge(c, 'job-1');
    await c.close();
    const backup = join(dir, 'backup');
    cpSync(state, backup, { recursive: true });
    const c2 = await Coordinator.create({ stateDir: state });
    await charge(c2, 'job-2');
    await c2.setBudget('admin', true, 'alice', { population: 'person' }, { epsilon: 0.5, delta: 1e-6 });
    await c2.close();
    for (const f of ['coordinator.duckdb', 'ledger-head.json']) {
      rmSync(join(state, f), { force: true });
      cpSync(join(backup, f), join(state, f));
    }
    rmSync(join(state, 'coordinator.duckdb.wal'), { force: true });
    const err = await Coordinator.create({ stateDir: state }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/the charge of job job-2/);
    expect(err?.message).toMatch(/the budget of alice on population person/);
  });

  it('an audit folder removed from a state with a ledger history: starts, but says so loudly in both logs', async () => {
    const c = await Coordinator.create({ stateDir: state });
    await charge(c, 'job-1');
    await c.close();
    rmSync(join(state, 'audit'), { recursive: true });
    const events: string[] = [];
    const again = await Coordinator.create({ stateDir: state, log: (e) => events.push(e) });
    await again.close();
    expect(events).toContain('audit-log-new-on-existing-ledger');
    expect(auditTypes()).toEqual(['audit.created', 'audit.new-on-existing-ledger', 'audit.opened']);
  });

  it('a coordinator whose audit log cannot be written admits no job (fail closed), and the ledger charges nothing', async () => {
    const c = await Coordinator.create({ stateDir: state });
    c.audit.log.close();
    c.audit.append('agent.registered', { agent: 'a1' });
    await expect(c.ledger.admit(job('job-1'), PERSON, COST)).rejects.toThrow(/cannot write its audit log/);
    expect(await c.ledger.report('alice')).toEqual([]);
    await c.close();
  });

  it('an audit log that was tampered with stops the coordinator, naming the entry', async () => {
    const c = await Coordinator.create({ stateDir: state });
    await charge(c, 'job-1');
    await c.close();
    const seg = join(state, 'audit', 'audit-000000000000.jsonl');
    const lines = readFileSync(seg, 'utf8').split('\n');
    lines.splice(2, 1);
    writeFileSync(seg, lines.join('\n'));
    await expect(Coordinator.create({ stateDir: state })).rejects.toThrow(/audit log .* does not verify: entry 2 was removed/);
  });
});
