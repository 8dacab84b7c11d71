/**
 * `fedmesh audit verify` and `fedmesh audit show`: read-only over an audit folder (the coordinator's
 * `<state>/audit` or an agent's), without any server. A domain verifies its agent's log on its own.
 */
import { readCheckpoints, verifyAuditDir, type AuditEntry } from '../../../common/audit/index.js';
import { EXIT } from '../../sdk/exit-codes.js';

export interface AuditVerifyFlags {
  log: string;
  publicKey?: string;
  /** verify only: a file of checkpoint lines kept apart from the log (an earlier verify's `checkpoint:` line). */
  checkpoint?: string;
  json?: boolean;
}

export interface AuditShowFlags extends AuditVerifyFlags {
  since?: string;
  type?: string;
  job?: string;
}

const MAX_PROBLEMS_SHOWN = 10;

/** The newest signed checkpoint line, to keep apart (`--checkpoint FILE` later proves the log still holds it). */
function readLastCheckpointLine(dir: string): string | undefined {
  const lines = readCheckpoints(dir).split('\n').filter((l) => l.startsWith('{'));
  return lines[lines.length - 1];
}

/** `fedmesh audit verify`: exit 0 when every entry and checkpoint verifies, 1 naming the first problem otherwise. */
export function runAuditVerify(flags: AuditVerifyFlags): number {
  const r = verifyAuditDir(flags.log, flags.publicKey, undefined, flags.checkpoint);
  if (flags.json) {
    const { frontier: _f, ...rest } = r;
    process.stdout.write(`${JSON.stringify({ ...rest, entries: r.nextIndex, first: r.problems[0] })}\n`);
    return r.ok ? EXIT.OK : EXIT.FAILED;
  }
  const out: string[] = [`audit log: ${flags.log}`];
  out.push(`public key: ${r.keyFingerprint} (${r.keySource === 'argument' ? `from ${flags.publicKey}` : 'from the log folder itself: pass --public-key with a copy kept elsewhere to rule out a log re-signed with a new key'})`);
  out.push(`entries: ${r.nextIndex}, checkpoints: ${r.checkpoints}${r.lastCheckpoint ? `, last checkpoint: ${r.lastCheckpoint.size} entries at ${new Date(r.lastCheckpoint.atMs).toISOString()}` : ''}`);
  if (r.uncheckpointed > 0) out.push(`note: the last ${r.uncheckpointed} entr${r.uncheckpointed === 1 ? 'y is' : 'ies are'} after the last checkpoint: signed one by one, but a cut there shows only at the next checkpoint`);
  const last = readLastCheckpointLine(flags.log);
  if (last) out.push(`checkpoint: ${last}`);
  if (r.ok) out.push('OK: every entry and every checkpoint verifies');
  else {
    out.push(`FAILED: ${r.problems[0]!.message}`);
    for (const p of r.problems.slice(1, MAX_PROBLEMS_SHOWN)) out.push(`  also: ${p.message}`);
    if (r.problems.length > MAX_PROBLEMS_SHOWN) out.push(`  … and ${r.problems.length - MAX_PROBLEMS_SHOWN} more`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return r.ok ? EXIT.OK : EXIT.FAILED;
}

/**
 * `--since`: an ISO 8601 date or time (`2026-12-04`, `2026-12-04T09:00:00Z`) or a duration back from now (`30m`,
 * `2h`, `7d`).
 * @throws RangeError naming the flag
 */
export function parseSince(v: string, nowMs = Date.now()): number {
  const d = /^(\d{1,6})([smhd])$/.exec(v);
  if (d) return nowMs - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 's' | 'm' | 'h' | 'd'];
  const t = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new RangeError(`--since must be an ISO date or time (2026-12-04, 2026-12-04T09:00:00Z) or a duration (30m, 2h, 7d), got ${JSON.stringify(v.slice(0, 40))}`);
  return t;
}

function matchesType(type: string, filter: string): boolean {
  return type === filter || type.startsWith(`${filter}.`);
}

function formatEntry(e: AuditEntry): string {
  const { i, atMs, type, sig: _s, ...fields } = e as AuditEntry & { sig?: string };
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${new Date(atMs).toISOString()}  #${i}  ${type}${rest ? `  ${rest}` : ''}`;
}

/**
 * `fedmesh audit show`: the entries whose signature verifies, filtered, as lines or JSON Lines. The log is verified
 * while it is read; when it does not verify the first problem goes to stderr and the exit code is 1.
 */
export function runAuditShow(flags: AuditShowFlags): number {
  const since = flags.since !== undefined ? parseSince(flags.since) : undefined;
  const out: string[] = [];
  const r = verifyAuditDir(flags.log, flags.publicKey, (e) => {
    if (since !== undefined && e.atMs < since) return;
    if (flags.type && !matchesType(e.type, flags.type)) return;
    if (flags.job && e.jobId !== flags.job) return;
    if (flags.json) {
      const { sig: _s, ...rest } = e as AuditEntry & { sig?: string };
      out.push(JSON.stringify(rest));
    } else out.push(formatEntry(e));
  });
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  if (!r.ok) {
    process.stderr.write(`warning: the audit log does not verify: ${r.problems[0]!.message} (run \`fedmesh audit verify --log ${flags.log}\`); only entries whose signature verifies are shown\n`);
    return EXIT.FAILED;
  }
  return EXIT.OK;
}
