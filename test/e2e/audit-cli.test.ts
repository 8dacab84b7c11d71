/**
 * `fedmesh audit verify` and `fedmesh audit show` as the README documents them, on a log written by the real
 * writer: an untouched log verifies (exit 0), a tampered one fails (exit 1) naming the entry, a key kept apart
 * catches a re-signed log, `show` filters and prints JSON Lines, bad flags exit 2 naming the flag.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, listSegments, PUBLIC_KEY_FILE } from '../../common/audit/index.js';
import { CLI, fedmesh } from '../helpers/fedmesh-cli.js';

describe('fedmesh audit verify | show', () => {
  let dir: string;
  let log: string;
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-audit-cli-'));
    log = join(dir, 'audit');
    const { audit } = AuditLog.open({ dir: log, role: 'agent', name: 'hospital-a', checkpointEvery: 3 });
    audit.append('task.received', { jobId: 'job-1', researcher: 'alice', kind: 'aggregate', privacyMode: 'central-dp', epsilon: 0.5 });
    audit.append('ledger.charge', { jobId: 'job-1', researcher: 'alice', rho: 0.125, epsilon: 0.5, delta: 0 });
    audit.append('task.answered', { jobId: 'job-1', researcher: 'alice', kind: 'aggregate' });
    audit.append('task.received', { jobId: 'job-2', researcher: 'bob', kind: 'cohort', privacyMode: 'none' });
    audit.append('task.refused', { jobId: 'job-2', researcher: 'bob', kind: 'cohort', code: 'POLICY_DENIED' });
    audit.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an untouched log verifies: exit 0, entries and checkpoints counted', async () => {
    const r = await fedmesh(['audit', 'verify', '--log', log]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('entries: 6, checkpoints: 2');
    expect(r.stdout).toContain('OK: every entry and every checkpoint verifies');
    expect(r.stdout).toContain('from the log folder itself');
  });

  it('a deleted entry: exit 1 naming it; --json gives the same first problem', async () => {
    const bad = join(dir, 'deleted');
    cpSync(log, bad, { recursive: true });
    const seg = join(bad, listSegments(bad)[0]!);
    const lines = readFileSync(seg, 'utf8').split('\n');
    lines.splice(2, 1);
    writeFileSync(seg, lines.join('\n'));
    const r = await fedmesh(['audit', 'verify', '--log', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED: entry 2 was removed: entry 3');
    const j = await fedmesh(['audit', 'verify', '--log', bad, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).first).toMatchObject({ kind: 'removed', entry: 2 });
  });

  it('a log re-signed with a new key passes against its own folder key, and fails against the key kept apart', async () => {
    const kept = join(dir, 'kept.pem');
    writeFileSync(kept, readFileSync(join(log, PUBLIC_KEY_FILE)));
    const forged = join(dir, 'forged');
    const { audit } = AuditLog.open({ dir: forged, role: 'agent', name: 'hospital-a' });
    audit.append('task.received', { jobId: 'job-1', researcher: 'alice' });
    audit.close();
    expect((await fedmesh(['audit', 'verify', '--log', forged])).code).toBe(0);
    const r = await fedmesh(['audit', 'verify', '--log', forged, '--public-key', kept]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED: entry 0');
    expect((await fedmesh(['audit', 'verify', '--log', log, '--public-key', kept])).code).toBe(0);
  });

  it('show filters by type prefix and job, and prints JSON Lines with --json', async () => {
    const r = await fedmesh(['audit', 'show', '--log', log, '--type', 'task', '--job', 'job-2']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/#5 {2}task\.refused {2}jobId=job-2 researcher=bob kind=cohort code=POLICY_DENIED$/);
    const j = await fedmesh(['audit', 'show', '--log', log, '--type', 'ledger', '--json']);
    const rows = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([expect.objectContaining({ i: 2, type: 'ledger.charge', jobId: 'job-1', rho: 0.125 })]);
    expect(rows[0]).not.toHaveProperty('sig');
    // --since in the future: nothing; in the past: everything.
    expect((await fedmesh(['audit', 'show', '--log', log, '--since', '2999-01-01'])).stdout).toBe('');
    expect((await fedmesh(['audit', 'show', '--log', log, '--since', '7d'])).stdout.trim().split('\n')).toHaveLength(6);
  });

  it('bad arguments exit 2 naming the flag', async () => {
    const since = await fedmesh(['audit', 'show', '--log', log, '--since', 'yesterday']);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('--since must be an ISO date');
    const missing = await fedmesh(['audit', 'verify', '--log', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--log:');
  });
});

describe('fedmesh coordinator --accept-ledger-loss, as documented', () => {
  it('a ledger that lost an audited charge: --check-state and start refuse naming the job; --accept-ledger-loss starts and audits it', async () => {
    const { Coordinator } = await import('../../coordinator/index.js');
    const { parseJobSpec } = await import('../../common/job/index.js');
    const { deleteLastCharge } = await import('../helpers/ledger-tamper.js');
    const { startProcess, stopAll, waitForLine } = await import('../../client/cli/commands/spawn-mesh.js');
    const dir = mkdtempSync(join(tmpdir(), 'fedmesh-accept-loss-'));
    const state = join(dir, 'state');
    try {
      const spec = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.5 } });
      const c = await Coordinator.create({ stateDir: state });
      for (const id of ['job-1', 'job-2']) {
        await c.ledger.admit({ id, kind: 'aggregate', researcher: 'alice', spec, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined }, [{ population: 'person', products: ['person'] }], { rho: 0.125, epsilon: 0.5, delta: 0 });
        await c.ledger.commit(id);
      }
      await c.close();
      await deleteLastCharge(state, 'job-2');
      const check = await fedmesh(['coordinator', '--check-state', '--state', state]);
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/problem: audit × ledger: the charge of job job-2/);
      const refused = await fedmesh(['coordinator', '--listen', '127.0.0.1:0', '--state', state, '--insecure', '--log-format', 'silent']);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toMatch(/FAILED_PRECONDITION: the privacy ledger lost changes the audit log recorded/);
      expect(refused.stderr).toContain('--accept-ledger-loss');
      const p = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', state, '--insecure', '--log-format', 'silent', '--accept-ledger-loss'], { cmd: process.execPath, args: [CLI] });
      try {
        await waitForLine(p, /listening on/, 20_000);
      } finally {
        await stopAll([p]);
      }
      const shown = await fedmesh(['audit', 'show', '--log', join(state, 'audit'), '--type', 'admin', '--json']);
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ type: 'admin.ledger-loss-accepted', problems: expect.arrayContaining([expect.stringContaining('the charge of job job-2')]) });
      expect((await fedmesh(['coordinator', '--check-state', '--state', state])).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
