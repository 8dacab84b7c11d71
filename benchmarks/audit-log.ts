/**
 * Issue 11, what the audit trail costs: appending an event (one Ed25519 signature and one fdatasync each), and
 * verifying a log at start (entries covered by a signed checkpoint are checked through its Merkle root; the rest
 * one signature each) and with every entry's own signature (`fedmesh audit verify` does the same as the start).
 * Standalone: `npx tsx benchmarks/audit-log.ts [entries]` (default 5000), printing one JSON object. The fsync cost
 * depends on the disk under the temporary folder (TMPDIR).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog, verifyAuditDir } from '../common/audit/index.js';

const n = Number(process.argv[2] ?? 5000);
if (!Number.isSafeInteger(n) || n < 1 || n > 10_000_000) throw new RangeError('entries must be an integer between 1 and 10^7');
const dir = mkdtempSync(join(tmpdir(), 'fedmesh-audit-bench-'));
try {
  const { audit } = AuditLog.open({ dir, role: 'coordinator', name: 'bench' });
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    audit.append('job.admitted', { jobId: `0f8e2a4c-1b2d-4e5f-8a9b-${String(k).padStart(12, '0')}`, researcher: 'alice', kind: 'aggregate', privacyMode: 'central-dp', epsilon: 0.5, agents: ['hospital-a', 'hospital-b', 'hospital-c'] });
  }
  const appendMs = performance.now() - t0;
  audit.close();
  const t1 = performance.now();
  const r = verifyAuditDir(dir);
  const verifyMs = performance.now() - t1;
  if (!r.ok) throw new Error(`the benchmark's own log does not verify: ${r.problems[0]?.message}`);
  const t2 = performance.now();
  const reopened = AuditLog.open({ dir, role: 'coordinator', name: 'bench' });
  const openMs = performance.now() - t2;
  reopened.audit.close();
  console.log(JSON.stringify({ entries: n + 1, appendMsPerEvent: +(appendMs / n).toFixed(3), appendsPerSecond: Math.round(n / (appendMs / 1000)), verifyEntriesPerSecond: Math.round((n + 1) / (verifyMs / 1000)), reopenMs: Math.round(openMs), checkpoints: r.checkpoints }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
