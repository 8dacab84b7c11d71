import Table from 'cli-table3';
import type { AgentInfoView, JobView } from '../types.js';
import { privacyLines } from './privacy-lines.js';

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
    ...(job.result?.agentsMissing ? { agentsMissing: job.result.agentsMissing } : {}),
    ...(job.result?.summary ?? {}),
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
  if (r.summary && job.kind !== 'aggregate') {
    lines.push(renderSummary(job.kind, r.summary, color));
  } else if (r.rows.length > 0) {
    const t = table(r.columns, color);
    for (const row of r.rows) t.push(r.columns.map((c) => cell(row[c])));
    lines.push(t.toString());
  } else {
    lines.push('(no rows released)');
  }
  for (const s of r.suppressed) {
    lines.push(`suppressed: ${Object.entries(s.group).map(([k, v]) => `${k}=${cell(v)}`).join(', ') || '(all rows)'} — below the minimum cell size at ${s.suppressedBy.join(', ')}`);
  }
  const withheld = Object.entries((r.privacy.withheldGroups ?? {}) as Record<string, number>).filter(([, n]) => n > 0);
  if (withheld.length > 0) lines.push(`withheld below the minimum cell size (keys never leave the agent): ${withheld.map(([a, n]) => `${a} ${n} group(s)`).join(', ')}`);
  for (const [agent, e] of Object.entries(r.agentErrors)) lines.push(`agent ${agent} did not answer: ${e.code}: ${e.message}`);
  for (const m of r.agentsMissing ?? []) lines.push(`agent ${m.agent} left out: ${m.reason}`);
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
  if (p.mode === 'none') {
    const k = typeof p.minCellSize === 'number' ? String(p.minCellSize) : Object.values((p.minCellSize as Record<string, number>) ?? {}).join('/') || '?';
    return `privacy: none (exact; minimum cell size ${k}${p.secure ? `; summed with ${String(p.secure)}, applied to the released totals` : ''})`;
  }
  return privacyLines(p).join('\n');
}

function small(head: string[], rows: unknown[][], color: boolean): string {
  const t = table(head, color);
  for (const r of rows) t.push(r.map(cell));
  return t.toString();
}

function withStd(v: unknown, std: unknown): string {
  return std === undefined ? cell(v) : `${cell(v)} ± ${cell(std)}`;
}

/** Readable output of cohort-level jobs. */
export function renderSummary(kind: string, s: Record<string, unknown>, color: boolean): string {
  const out: string[] = [];
  if (kind === 'cohort' || kind === 'characterize') {
    out.push(`persons: ${withStd(s.count, s.count_std)}${s.entries !== undefined ? `   entries: ${cell(s.entries)}` : ''}`);
    const attr = s.attrition as { rule: string; persons: unknown; persons_std?: unknown }[] | undefined;
    if (attr) out.push('attrition', small(['inclusion rule', 'persons remaining'], attr.map((a) => [a.rule, withStd(a.persons, a.persons_std)]), color));
    const bands = s.byAgeBand as { band: string; count: unknown; count_std?: unknown }[];
    out.push('by age band at index', small(['age', 'persons'], bands.map((b) => [b.band, withStd(b.count, b.count_std)]), color));
    const genders = s.byGender as { gender: string; count: unknown; count_std?: unknown }[];
    out.push('by gender', small(['gender', 'persons'], genders.map((g) => [g.gender, withStd(g.count, g.count_std)]), color));
    const agents = s.byAgent as { agent: string; persons: unknown }[] | undefined;
    if (agents) out.push('by agent', small(['agent', 'persons'], agents.map((a) => [a.agent, a.persons]), color));
    for (const key of ['conditions', 'drugs'] as const) {
      const list = s[key] as { concept_id: number; persons: unknown; persons_std?: unknown; prevalence: unknown }[] | undefined;
      if (list?.length) out.push(key, small(['concept_id', 'persons', 'prevalence'], list.map((c) => [c.concept_id, withStd(c.persons, c.persons_std), c.prevalence]), color));
    }
  } else if (kind === 'survival') {
    const curves = s.curves as { label: string; atRisk: number[]; median: { estimate: unknown; lower: unknown; upper: unknown } }[];
    out.push(small(['stratum', 'persons', 'median (days)', '95% CI'], curves.map((c) => [c.label, c.atRisk[0], c.median.estimate, `${cell(c.median.lower)} – ${cell(c.median.upper)}`]), color));
    const lr = s.logRank as { statistic: unknown; df: unknown; pValue: unknown } | undefined;
    if (lr) out.push(`log-rank: χ² = ${cell(lr.statistic)} on ${cell(lr.df)} df, p = ${cell(lr.pValue)}`);
  } else if (kind === 'contingency') {
    const t = s.table as unknown[][];
    const cols = (s.colLevels as unknown[]).map(String);
    out.push(small(['', ...cols], (s.rowLevels as unknown[]).map((r, i) => [r, ...(t[i] ?? [])]), color));
    const chi = s.chiSquare as { statistic: unknown; df: unknown; pValue: unknown } | undefined;
    if (chi) out.push(`chi-square test of independence: X² = ${cell(chi.statistic)} on ${cell(chi.df)} df, p = ${cell(chi.pValue)}`);
  }
  return out.join('\n');
}
