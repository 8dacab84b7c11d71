import Table from 'cli-table3';
import { isRegistryKind, renderKindJob } from './kind-view.js';
import type { AgentInfoView, IngestStatusView, JobView } from '../../sdk/types.js';
import { arrayLabels, type FlatTable } from '../../sdk/result-table.js';
import { conceptNameColumn, truncateName, withConceptNames } from '../../sdk/concept-names.js';

/** Tables are laid out for a 120-column terminal (issue 14 #9). */
const WIDTH = 120;
import { privacyLines } from './privacy-lines.js';
import { partialLine, populationOf } from '../../../common/job/index.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
  if (Array.isArray(v)) return v.map(cell).join(' ');
  return String(v);
}

function table(head: string[], color: boolean): Table.Table {
  return new Table({ head, style: color ? {} : { head: [], border: [] } });
}

/**
 * Cells as text, with column `nameCol` (a concept name) cut with … so that the table is at most WIDTH characters
 * wide (cli-table3 pads each cell by one space on both sides and draws ncols + 1 borders). A name keeps at least
 * 10 characters even when the other columns alone are too wide.
 */
export function fitNameColumn(head: readonly string[], rows: readonly unknown[][], nameCol: number): string[][] {
  const text = rows.map((r) => r.map(cell));
  const width = (i: number): number => Math.max([...head[i]!].length, ...text.map((r) => [...(r[i] ?? '')].length));
  const others = head.reduce((sum, _, i) => (i === nameCol ? sum : sum + width(i) + 2), 0) + head.length + 1;
  const max = Math.max(10, WIDTH - others - 2);
  return text.map((r) => r.map((c, i) => (i === nameCol ? truncateName(c, max) : c)));
}

function named(head: string[], rows: unknown[][], nameCol: number, color: boolean): string {
  const t = table(head, color);
  for (const r of fitNameColumn(head, rows, nameCol)) t.push(r);
  return t.toString();
}

/** The one JSON object `fedmesh query --json` prints: names beside concept ids where the result carries them. */
export function jobToJson(view: JobView): Record<string, unknown> {
  const job = withConceptNames(view);
  return {
    jobId: job.jobId,
    status: job.state,
    agents: job.agents,
    rows: job.result?.rows ?? [],
    suppressed: job.result?.suppressed ?? [],
    privacy: job.result?.privacy ?? {},
    notes: job.result?.notes ?? [],
    agentErrors: job.result?.agentErrors ?? {},
    ...(job.result?.complete !== undefined ? { complete: job.result.complete } : {}),
    ...(job.result?.agentsMissing ? { agentsMissing: job.result.agentsMissing } : {}),
    ...(job.result?.conceptNames ? { conceptNames: job.result.conceptNames } : {}),
    ...(job.result?.summary ?? {}),
    ...(job.error ? { error: job.error } : {}),
  };
}

export function renderJob(view: JobView, color: boolean): string {
  if (isRegistryKind(view.kind)) return renderKindJob(view);
  const job = withConceptNames(view);
  const lines: string[] = [];
  // Out of every agent the job concerns: those asked and those left out (not live, schema), never "2/2" for 2 of 3.
  const concerned = new Set([...job.agents.asked, ...job.agents.missing]).size;
  lines.push(`job ${job.jobId}: ${job.state}  (agents answered ${job.agents.answered.length}/${concerned}${job.agents.missing.length ? `, missing: ${job.agents.missing.join(', ')}` : ''})`);
  if (job.error) {
    lines.push(`error ${job.error.code}: ${job.error.message}`);
    return lines.join('\n');
  }
  const r = job.result;
  if (!r) return lines.join('\n');
  // A partial result says so first, in plain words, before any number.
  if (r.complete === false) lines.push(partialLine(job.agents.answered.length, r.agentsMissing ?? []));
  if (r.summary && job.kind !== 'aggregate') {
    lines.push(renderSummary(job.kind, r.summary, color));
  } else if (r.rows.length > 0) {
    // A concept name beside its id (at most one name column is cut to fit; a second one stays as it is).
    const nameCol = r.columns.findIndex((c, i) => i > 0 && c === conceptNameColumn(r.columns[i - 1]!) && c !== r.columns[i - 1]);
    if (nameCol >= 0) lines.push(named(r.columns, r.rows.map((row) => r.columns.map((c) => row[c])), nameCol, color));
    else {
      const t = table(r.columns, color);
      for (const row of r.rows) t.push(r.columns.map((c) => cell(row[c])));
      lines.push(t.toString());
    }
    // Array fields (histograms, quantiles) print as space-separated cells: say what each cell is.
    for (const c of r.columns) {
      const first = r.rows.find((row) => Array.isArray(row[c]))?.[c] as unknown[] | undefined;
      if (first && !/_(std|ci95)$/.test(c)) lines.push(`${c} cells: ${arrayLabels(job, c, first.length).join(' ')}`);
    }
  } else {
    lines.push('(no rows released)');
  }
  // The bias of contribution bounding is error the user must see beside the numbers, not only in the JSON.
  // So is where an exact survival curve stops (withheld cells) and which p-values are approximate under DP.
  for (const n of r.notes) if (/^(contribution bounding bias|stratum \S+: |log-rank test over|log-rank p-value is approximate|chi-square p-value is approximate)/.test(n)) lines.push(n);
  for (const s of r.suppressed) {
    lines.push(`suppressed: ${Object.entries(s.group).map(([k, v]) => `${k}=${cell(v)}`).join(', ') || '(all rows)'} — below the minimum cell size at ${s.suppressedBy.join(', ')}`);
  }
  const withheld = Object.entries((r.privacy.withheldGroups ?? {}) as Record<string, number>).filter(([, n]) => n > 0);
  if (withheld.length > 0) lines.push(`withheld below the minimum cell size (keys never leave the agent): ${withheld.map(([a, n]) => `${a} ${n} group(s)`).join(', ')}`);
  for (const [agent, e] of Object.entries(r.agentErrors)) lines.push(`agent ${agent} did not answer: ${e.code}: ${e.message}`);
  if (r.complete !== false) for (const m of r.agentsMissing ?? []) lines.push(`agent ${m.agent} left out: ${m.reason}`);
  lines.push(privacyLine(r.privacy));
  return lines.join('\n');
}

/** A table whose column widths add up to at most WIDTH characters; long cells wrap. */
function fitted(head: string[], widths: number[], color: boolean): Table.Table {
  return new Table({ head, colWidths: widths, wordWrap: true, wrapOnWordBoundary: false, style: color ? {} : { head: [], border: [] } });
}

const shortTime = (ms: number): string => (ms ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : '—');

export function renderAgents(agents: AgentInfoView[], color: boolean): string {
  // 14 + 12 + 6 + 22 + 15 + 44 + 7 borders = 120
  const t = fitted(['agent', 'domain', 'live', 'last heartbeat (UTC)', 'ingest', 'products'], [14, 12, 6, 22, 15, 44], color);
  for (const a of agents) {
    const served = a.connected ? a.products.map((p) => p.name).join(', ') : `not live${a.notLiveSinceMs ? ` since ${shortTime(a.notLiveSinceMs)}` : ''} (${a.notLiveReason || 'disconnected'}); served: ${(a.registeredProducts ?? []).join(', ')}`;
    t.push([a.name, a.domain, a.connected ? 'yes' : 'no', shortTime(a.lastHeartbeatMs), ingestState(a.ingest), served]);
  }
  const notes = renderIngestNotices(agents);
  return notes ? `${t.toString()}\n${notes}` : t.toString();
}

/** `ok`, `warnings (3)`, `FAILED: omop`, or `?` for an agent that does not report its ingest. */
export function ingestState(s: IngestStatusView | undefined): string {
  if (!s) return '?';
  if (s.state === 'failed') return `FAILED: ${s.failed.join(', ')}`;
  return s.state === 'warnings' ? `warnings (${s.notices.length + s.omitted})` : 'ok';
}

/** Each agent's ingest errors and warnings, one line each, wrapped to WIDTH; empty when there are none. */
export function renderIngestNotices(agents: readonly Pick<AgentInfoView, 'name' | 'ingest'>[]): string {
  const lines: string[] = [];
  for (const a of agents) {
    const s = a.ingest;
    if (!s || s.state === 'ok') continue;
    const when = s.atMs ? ` (read ${shortTime(s.atMs)} UTC)` : '';
    lines.push(wrap(s.state === 'failed' ? `ingest at ${a.name}: FAILED (${s.failed.join(', ')})${when}; it serves its previous data, if any` : `ingest at ${a.name}: loaded with warnings${when}`, 2));
    // Indented by two (wrap drops leading spaces, so the indent goes in after wrapping, counted in the width).
    for (const n of s.notices) lines.push(wrap(`..${n.severity}: ${n.source}: ${n.message}`, 4).replace(/^\.\./, '  '));
    if (s.omitted > 0) lines.push(`  … and ${s.omitted} more (see the agent's log)`);
  }
  return lines.join('\n');
}

/** kind, product, privacy mode and ε (or ρ) of each job, from the ListJobs summary. */
export function jobsTable(jobs: JobView[]): FlatTable {
  return {
    columns: ['job', 'kind', 'product', 'mode', 'epsilon', 'rho', 'secure', 'state', 'researcher', 'created', 'answered', 'asked'],
    rows: jobs.map((j) => {
      const sp = (j.spec ?? {}) as { product?: string; privacyMode?: string; privacy?: { mode?: string; epsilon?: number; rho?: number }; epsilon?: number; rho?: number; secure?: string };
      return {
        job: j.jobId,
        kind: j.kind,
        product: sp.product ?? null,
        mode: sp.privacyMode ?? sp.privacy?.mode ?? null,
        epsilon: sp.epsilon ?? sp.privacy?.epsilon ?? null,
        rho: sp.rho ?? sp.privacy?.rho ?? null,
        secure: sp.secure ?? null,
        state: j.state,
        researcher: j.researcher,
        created: new Date(j.createdAtMs).toISOString(),
        answered: j.agents.answered.length,
        asked: j.agents.asked.length,
      };
    }),
  };
}

export function renderJobs(jobs: JobView[], color: boolean): string {
  // 10 + 13 + 19 + 12 + 9 + 10 + 12 + 20 + 5 + 10 borders = 120 (job ids shortened to 8 characters)
  const t = fitted(['job', 'kind', 'product', 'mode', 'ε / ρ', 'state', 'researcher', 'created (UTC)', 'ans.'], [10, 13, 19, 12, 9, 10, 12, 20, 5], color);
  const flat = jobsTable(jobs);
  flat.rows.forEach((r, i) => {
    const j = jobs[i]!;
    const budget = r.epsilon !== null ? `ε ${cell(r.epsilon)}` : r.rho !== null ? `ρ ${cell(r.rho)}` : r.mode === 'none' ? '—' : 'default';
    t.push([j.jobId.slice(0, 8), `${j.kind}${r.secure ? `+${String(r.secure)}` : ''}`, cell(r.product), cell(r.mode), budget, j.state, j.researcher, shortTime(j.createdAtMs), `${j.agents.answered.length}/${j.agents.asked.length}`]);
  });
  return t.toString();
}

export interface CatalogProduct {
  name: string;
  agents: string[];
  privacyUnit: string;
  description: string;
  columns: { name: string; type: string }[];
  perAgent: Record<string, unknown>;
}

/** Wraps `text` at WIDTH, continuation lines indented by `indent` spaces. */
function wrap(text: string, indent: number): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > WIDTH) {
      lines.push(line);
      line = ' '.repeat(indent) + w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/**
 * The population (budget domain) of a product as its agents publish it: one name, or each with its agents when
 * they disagree (a job on it is then charged to all of them).
 */
export function catalogPopulation(p: Pick<CatalogProduct, 'perAgent'>): string {
  const byPopulation = new Map<string, string[]>();
  for (const [agent, m] of Object.entries(p.perAgent)) {
    const pop = populationOf({ metadata: (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown> });
    byPopulation.set(pop, [...(byPopulation.get(pop) ?? []), agent]);
  }
  if (byPopulation.size <= 1) return [...byPopulation.keys()][0] ?? 'person';
  return [...byPopulation.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pop, agents]) => `${pop} (${agents.join(', ')})`).join(', ');
}

/** The catalog as text that fits WIDTH columns: one block per product, then the agents' ingest problems. */
export function renderCatalog(products: CatalogProduct[], agents: readonly Pick<AgentInfoView, 'name' | 'ingest'>[] = []): string {
  const notes = renderIngestNotices(agents);
  return catalogBlocks(products) + (notes ? `\n${notes}` : '');
}

function catalogBlocks(products: CatalogProduct[]): string {
  return products
    .map((p) => {
      const meta = Object.values(p.perAgent)[0] as { sensitivity?: string } | undefined;
      const rows = Object.entries(p.perAgent).map(([a, m]) => `${a}: ${String((m as { quality?: { rowCount?: unknown } }).quality?.rowCount ?? '?')}`).join(', ');
      return [
        wrap(`${p.name} — ${p.description}`, 2),
        wrap(`  agents: ${p.agents.join(', ')}; privacy unit: ${p.privacyUnit || '—'}; population: ${catalogPopulation(p)}; sensitivity: ${meta?.sensitivity ?? '?'}; rows (coarsened): ${rows}`, 4),
        wrap(`  columns: ${p.columns.map((c) => `${c.name}:${c.type}`).join(', ')}`, 4),
      ].join('\n');
    })
    .join('\n');
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

/**
 * A count with its noise std. A noisy count is shown rounded and never below 0 (a negative number of persons
 * reads as an error; the JSON keeps the unrounded noisy value, which is the unbiased one).
 */
function withStd(v: unknown, std: unknown): string {
  if (std === undefined) return cell(v);
  const shown = typeof v === 'number' ? Math.max(0, Math.round(v)) : v;
  return `${cell(shown)} ± ${cell(std)}`;
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
    const genders = s.byGender as { gender: string; gender_concept_id?: unknown; concept_name?: string | null; count: unknown; count_std?: unknown }[];
    if (genders.some((g) => g.concept_name)) out.push('by gender', named(['gender', 'concept_id', 'name', 'persons'], genders.map((g) => [g.gender, g.gender_concept_id, g.concept_name, withStd(g.count, g.count_std)]), 2, color));
    else out.push('by gender', small(['gender', 'persons'], genders.map((g) => [g.gender, withStd(g.count, g.count_std)]), color));
    const agents = s.byAgent as { agent: string; persons: unknown }[] | undefined;
    if (agents) out.push('by agent', small(['agent', 'persons'], agents.map((a) => [a.agent, a.persons]), color));
    for (const key of ['conditions', 'drugs'] as const) {
      const list = s[key] as { concept_id: number; concept_name?: string | null; persons: unknown; persons_std?: unknown; prevalence: unknown }[] | undefined;
      if (list?.length && list.some((c) => c.concept_name)) out.push(key, named(['concept_id', 'name', 'persons', 'prevalence'], list.map((c) => [c.concept_id, c.concept_name, withStd(c.persons, c.persons_std), c.prevalence]), 1, color));
      else if (list?.length) out.push(key, small(['concept_id', 'persons', 'prevalence'], list.map((c) => [c.concept_id, withStd(c.persons, c.persons_std), c.prevalence]), color));
    }
  } else if (kind === 'survival') {
    const curves = s.curves as { label: string; atRisk: number[]; median: { estimate: unknown; lower: unknown; upper: unknown } }[];
    out.push(small(['stratum', 'persons', 'median (days)', '95% CI'], curves.map((c) => [c.label, c.atRisk[0], c.median.estimate, `${cell(c.median.lower)} – ${cell(c.median.upper)}`]), color));
    const lr = s.logRank as { statistic: unknown; df: unknown; pValue: unknown; pValueApproximate?: boolean } | undefined;
    if (lr) out.push(`log-rank: χ² = ${cell(lr.statistic)} on ${cell(lr.df)} df, p = ${cell(lr.pValue)}${lr.pValueApproximate ? ' (approximate: noisy counts treated as exact)' : ''}`);
  } else if (kind === 'contingency') {
    const t = s.table as unknown[][];
    const cols = (s.colLevels as unknown[]).map(String);
    // Noisy cells (cell_std present) are shown like other noisy counts: rounded, never below 0.
    const shown = (x: unknown): unknown => (s.cell_std !== undefined && typeof x === 'number' ? Math.max(0, Math.round(x)) : x);
    const rowNames = s.rowLevelNames as (string | null)[] | undefined;
    const colNames = s.colLevelNames as (string | null)[] | undefined;
    // Row levels carry their name (cut to 24 characters); column names would widen every column, so they go in a legend.
    const label = (r: unknown, i: number): string => (rowNames?.[i] ? `${cell(r)} ${truncateName(rowNames[i], 24)}` : cell(r));
    out.push(small(['', ...cols], (s.rowLevels as unknown[]).map((r, i) => [label(r, i), ...(t[i] ?? []).map(shown)]), color));
    if (colNames?.some((n) => n)) out.push(wrap(`columns: ${cols.map((c, i) => `${c} = ${colNames[i] ? truncateName(colNames[i], 40) : '—'}`).join(', ')}`, 2));
    if (s.cell_std !== undefined) out.push(`each cell ± ${cell(s.cell_std)} (noise std)`);
    const chi = s.chiSquare as { statistic: unknown; df: unknown; pValue: unknown; pValueApproximate?: boolean } | undefined;
    if (chi) out.push(`chi-square test of independence: X² = ${cell(chi.statistic)} on ${cell(chi.df)} df, p = ${cell(chi.pValue)}${chi.pValueApproximate ? ' (approximate: noisy counts treated as exact)' : ''}`);
  }
  return out.join('\n');
}
