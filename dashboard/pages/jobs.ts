/**
 * Jobs: the caller's jobs (an administrator's: everyone's) and one job's page: state and per-agent progress (live
 * over server-sent events while it runs), the privacy spent, the result as a table and as charts, and the CSV and
 * JSON downloads. Everything shown is what the coordinator released to this caller.
 */
import type { JobSummary } from '../../coordinator/job-summary.js';
import type { JobView } from '../../client/sdk/types.js';
import type { FlatTable } from '../../client/sdk/result-table.js';
import { privacyLines } from '../../client/cli/format/privacy-lines.js';
import { fmt, html, when, type SafeHtml } from '../html.js';
import { askedPrivacy } from '../job-view.js';

export function stateBadge(state: string, id?: string): SafeHtml {
  return html`<span class="state-${state}"${id ? html` id="${id}"` : ''}>${state}</span>`;
}

export function jobsPage(jobs: JobSummary[], isAdmin: boolean): SafeHtml {
  if (jobs.length === 0) return html`<p>No jobs yet. <a href="/submit">Submit one</a>.</p>`;
  return html`<p>${isAdmin ? 'Every researcher’s jobs (you are an administrator).' : 'Your jobs (other researchers’ jobs are never shown).'} Newest first.</p>
<table>
<caption class="note">Jobs</caption>
<thead><tr><th scope="col">job</th>${isAdmin ? html`<th scope="col">researcher</th>` : ''}<th scope="col">kind</th><th scope="col">product</th><th scope="col">privacy</th><th scope="col">state</th><th scope="col">submitted</th><th scope="col">agents answered</th></tr></thead>
<tbody>${jobs.map((j) => html`<tr data-job-id="${j.id}"><td><a href="/jobs/${encodeURIComponent(j.id)}">${j.id.slice(0, 8)}</a></td>${isAdmin ? html`<td>${j.researcher}</td>` : ''}<td>${j.kind}</td><td>${j.spec.product ?? '—'}</td><td>${askedPrivacy(j.spec)}${j.spec.secure ? ` over ${j.spec.secure}` : ''}</td><td>${stateBadge(j.state)}${j.error ? html` <span class="note">${j.error.code}</span>` : ''}</td><td>${when(j.createdAtMs)}</td><td>${j.agentsAnswered.length} of ${j.agentsAsked.length}</td></tr>`)}</tbody>
</table>`;
}

/**
 * Rows the page shows of a released table; the CSV and JSON downloads hold all of them. A result of many groups
 * (10 000 public keys) made a page of 150 MB rendered on the coordinator's event loop (red team 41, B F1).
 */
export const MAX_PAGE_ROWS = 500;

function resultTableHtml(t: FlatTable): SafeHtml {
  if (t.columns.length === 0) return html`<p class="note">The result has no rows.</p>`;
  const shown = t.rows.slice(0, MAX_PAGE_ROWS);
  return html`<table id="result-table">
<caption class="note">Released result (${t.rows.length} row(s)${shown.length < t.rows.length ? `; the first ${shown.length} shown here, all of them in the CSV and JSON downloads` : ''})</caption>
<thead><tr>${t.columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
<tbody>${shown.map((r) => html`<tr>${t.columns.map((c) => html`<td${typeof r[c] === 'number' ? html` class="num"` : ''} data-value="${r[c] === null || r[c] === undefined ? '' : String(r[c])}">${fmt(r[c])}</td>`)}</tr>`)}</tbody>
</table>`;
}

export interface JobPageParts {
  view: JobView;
  table: FlatTable;
  charts: { id: string; title: string; svg: SafeHtml }[];
}

export function jobPage({ view, table, charts }: JobPageParts): SafeHtml {
  const r = view.result;
  const terminal = view.state === 'succeeded' || view.state === 'failed';
  const id = encodeURIComponent(view.jobId);
  return html`<dl>
<dt>job</dt><dd><code>${view.jobId}</code></dd>
<dt>kind</dt><dd>${view.kind}</dd>
<dt>researcher</dt><dd>${view.researcher}</dd>
<dt>state</dt><dd>${stateBadge(view.state, 'job-state')}</dd>
<dt>submitted</dt><dd>${when(view.createdAtMs)}${view.finishedAtMs ? html`; finished ${when(view.finishedAtMs)}` : ''}</dd>
<dt>agents</dt><dd>asked: ${view.agents.asked.join(', ') || '—'}; answered: ${view.agents.answered.join(', ') || '—'}${view.agents.missing.length ? `; missing: ${view.agents.missing.join(', ')}` : ''}</dd>
</dl>
${view.error ? html`<p class="error" role="alert">${view.error.code}: ${view.error.message}${view.error.field ? ` (field ${view.error.field})` : ''}</p>` : ''}
${terminal ? '' : html`<h2>Progress</h2><p class="note">Live over server-sent events; the page reloads when the job finishes.</p>`}
<ol class="events" id="events" aria-live="polite"></ol>
${r ? html`<h2>Privacy spent</h2>
${r.privacy.mode === 'none' ? html`<p>none: exact aggregates; cells below each agent’s minimum size were withheld, never shown as zero.</p>` : html`<pre>${privacyLines(r.privacy).join('\n')}</pre>`}
${r.complete === false ? html`<p class="error">Partial result: ${(r.agentsMissing ?? []).map((m) => `${m.agent} (${m.reason})`).join('; ')}</p>` : ''}
<h2>Result</h2>
<p><a href="/jobs/${id}/result.csv" download>Download CSV</a> · <a href="/jobs/${id}/result.json" download>Download JSON</a></p>
${resultTableHtml(table)}
${r.suppressed.length ? html`<p class="note">${r.suppressed.length} group(s) withheld below the minimum cell size.</p>` : ''}
${r.notes.length ? html`<h2>Notes</h2><ul>${r.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ''}
${view.resultCiphertexts ? html`<p class="note">This is a homomorphically encrypted result: decrypt it with the CLI that holds the secret key (<code>fedmesh query</code>).</p>` : ''}
${charts.length ? html`<h2>Charts</h2>${charts.map((c) => html`<figure class="chart" data-chart="${c.id}" aria-label="${c.title}">${c.svg}<figcaption>${c.title} · <a href="/jobs/${id}/charts.json">chart data (JSON)</a></figcaption></figure>`)}` : ''}` : ''}`;
}
