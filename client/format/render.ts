import Table from 'cli-table3';
import type { AgentInfoView, JobView } from '../types.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
  if (Array.isArray(v)) return v.map(cell).join(' ');
  return String(v);
}

function table(head: string[], color: boolean): Table.Table {
  return new Table({ head, style: color ? {} : { head: [], border: [] } });
}

/** The one JSON object `fedmesh query --json` prints. */
export function jobToJson(job: JobView): Record<string, unknown> {
  return {
    jobId: job.jobId,
    status: job.state,
    agents: job.agents,
    rows: job.result?.rows ?? [],
    suppressed: job.result?.suppressed ?? [],
    privacy: job.result?.privacy ?? {},
    notes: job.result?.notes ?? [],
    agentErrors: job.result?.agentErrors ?? {},
    ...(job.error ? { error: job.error } : {}),
  };
}

export function renderJob(job: JobView, color: boolean): string {
  const lines: string[] = [];
  lines.push(`job ${job.jobId}: ${job.state}  (agents answered ${job.agents.answered.length}/${job.agents.asked.length}${job.agents.missing.length ? `, missing: ${job.agents.missing.join(', ')}` : ''})`);
  if (job.error) {
    lines.push(`error ${job.error.code}: ${job.error.message}`);
    return lines.join('\n');
  }
  const r = job.result;
  if (!r) return lines.join('\n');
  if (r.rows.length > 0) {
    const t = table(r.columns, color);
    for (const row of r.rows) t.push(r.columns.map((c) => cell(row[c])));
    lines.push(t.toString());
  } else {
    lines.push('(no rows released)');
  }
  for (const s of r.suppressed) {
    lines.push(`suppressed: ${Object.entries(s.group).map(([k, v]) => `${k}=${cell(v)}`).join(', ') || '(all rows)'} — below the minimum cell size at ${s.suppressedBy.join(', ')}`);
  }
  for (const [agent, e] of Object.entries(r.agentErrors)) lines.push(`agent ${agent} did not answer: ${e.code}: ${e.message}`);
  lines.push(privacyLine(r.privacy));
  return lines.join('\n');
}

export function renderAgents(agents: AgentInfoView[], color: boolean): string {
  const t = table(['agent', 'domain', 'connected', 'last heartbeat', 'products'], color);
  for (const a of agents) {
    t.push([a.name, a.domain, a.connected ? 'yes' : 'no', a.lastHeartbeatMs ? new Date(a.lastHeartbeatMs).toISOString() : '—', a.products.map((p) => p.name).join(', ')]);
  }
  return t.toString();
}

export function renderJobs(jobs: JobView[], color: boolean): string {
  const t = table(['job', 'kind', 'state', 'researcher', 'created', 'answered'], color);
  for (const j of jobs) {
    t.push([j.jobId, j.kind, j.state, j.researcher, new Date(j.createdAtMs).toISOString(), `${j.agents.answered.length}/${j.agents.asked.length}`]);
  }
  return t.toString();
}

function privacyLine(p: Record<string, unknown>): string {
  if (p.mode === 'none') return `privacy: none (exact; minimum cell size ${Object.values((p.minCellSize as Record<string, number>) ?? {}).join('/') || '?'})`;
  const spent = (p.spent ?? {}) as { rho?: number; epsilon?: number | null; delta?: number };
  const parts = [`privacy: ${String(p.mode)}`, `spent ε=${spent.epsilon === null || spent.epsilon === undefined ? '∞' : spent.epsilon.toFixed(4)} δ=${spent.delta ?? 0} (ρ=${(spent.rho ?? 0).toPrecision(4)})`, `≤ ${String(p.maxRowsPerPerson)} row(s)/person`];
  const mech = (p.mechanisms as { field: string; noise?: { distribution: string; std: number }; sum?: { distribution: string } }[] | undefined) ?? [];
  for (const m of mech) parts.push(`${m.field}: ${(m.noise ?? m.sum)?.distribution ?? 'noise'}`);
  return parts.join('; ');
}
